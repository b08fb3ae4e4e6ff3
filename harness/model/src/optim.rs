//! The optimisers' updates as one pass over each parameter tensor: Adam
//! (Kingma and Ba 2015, "Adam: A Method for Stochastic Optimization") and
//! plain stochastic gradient descent.
//!
//! burn's `Adam` updates a parameter through about a dozen tensor
//! operations (scale the moments, square the gradient, add, take the root,
//! divide, scale, subtract), each a pass over the parameter and a fresh
//! buffer: for the MLP that is a sixth of training time. [`FusedAdam`] does
//! the same arithmetic, operation for operation in the same order and
//! precision, in one loop over the values, so its parameters and moments
//! are bit for bit burn's (a test checks this over many steps). Its state
//! is burn's [`AdamState`], so the optimiser state kept between training
//! calls has the same shape as before.

use burn::optim::LearningRate;
use burn::optim::{AdamState, AdaptiveMomentumState, Optimizer, SgdState};
use burn::tensor::{Device, Tensor, TensorData};

/// Adam without weight decay or AMSGrad, ε added to the root of the second
/// moment after bias correction (burn's and PyTorch's placement).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl FusedAdam {
    /// β = (0.9, 0.999) and the given ε.
    pub(crate) fn new(epsilon: f32) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon,
        }
    }
}

/// A tensor's values, row-major (without a copy when the tensor owns them).
fn into_values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .unwrap_or_else(|e| unreachable!("parameters are f32: {e:?}"))
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (device, shape) = (tensor.device(), tensor.shape());
        let mut p = into_values(tensor);
        let g = into_values(grad);
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        let (time, m, v) = match state {
            // Later steps: m ← β₁·m + (1−β₁)·g, v ← β₂·v + (1−β₂)·g².
            Some(state) => {
                let s = state.momentum;
                let (mut m, mut v) = (into_values(s.moment_1), into_values(s.moment_2));
                crate::simd(|| {
                    for ((m, v), &g) in m.iter_mut().zip(v.iter_mut()).zip(&g) {
                        *m = *m * b1 + g * f1;
                        *v = *v * b2 + (g * g) * f2;
                    }
                });
                (s.time + 1, m, v)
            }
            // The first step: m = (1−β₁)·g, v = (1−β₂)·g².
            None => {
                let m = g.iter().map(|&g| g * f1).collect::<Vec<_>>();
                let v = g.iter().map(|&g| (g * g) * f2).collect::<Vec<_>>();
                (1, m, v)
            }
        };
        let t = time as i32;
        let root_correction = (1.0 - b2.powi(t)).sqrt();
        let factor = root_correction / (1.0 - b1.powi(t));
        let eps = self.epsilon * root_correction;
        let lr = lr as f32;
        crate::simd(|| {
            for ((p, &m), &v) in p.iter_mut().zip(&m).zip(&v) {
                *p -= ((m * factor) / (v.sqrt() + eps)) * lr;
            }
        });
        let tensor =
            |values: Vec<f32>| Tensor::from_data(TensorData::new(values, shape.clone()), &device);
        let momentum = AdaptiveMomentumState::new(time, tensor(m), tensor(v));
        (tensor(p), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

/// Plain SGD, `w ← w − lr·g` (no momentum, no weight decay): burn's `Sgd`
/// computes `lr·g` as one tensor and subtracts it as another; this is the
/// same two operations per value in one pass, bit for bit burn's (tested).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FusedSgd;

impl Optimizer for FusedSgd {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        _state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (device, shape) = (tensor.device(), tensor.shape());
        let mut p = into_values(tensor);
        let g = into_values(grad);
        let lr = lr as f32;
        crate::simd(|| {
            for (p, &g) in p.iter_mut().zip(&g) {
                *p -= g * lr;
            }
        });
        let tensor = Tensor::from_data(TensorData::new(p, shape), &device);
        (tensor, Some(SgdState::new(None)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, _device: &Device) -> Self::State<D> {
        state
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
    use burn::tensor::activation::relu;
    use poisonlab_core::seed::stream;
    use rand::Rng as _;

    use super::*;

    /// Two dense layers, the loss of a random batch, many steps: the fused
    /// update leaves exactly the parameters of burn's optimiser `burns`.
    fn same_as_burns(mut burns: ModuleOptimizer, mut ours: ModuleOptimizer) {
        #[derive(Module, Debug)]
        struct Two {
            a: Linear,
            b: Linear,
        }
        let device = crate::backend::autodiff_device();
        let mut net = Two {
            a: LinearConfig::new(7, 5).init(&device),
            b: LinearConfig::new(5, 3).init(&device),
        };
        let mut twin = net.clone();
        let mut rng = stream(3, 0, "adam");
        for step in 0..30 {
            let x: Vec<f32> = (0..4 * 7).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let x = Tensor::<2>::from_data(TensorData::new(x, [4, 7]), &device);
            let loss = |n: &Two| {
                n.b.forward(relu(n.a.forward(x.clone())))
                    .powi_scalar(2)
                    .sum()
            };
            let g1 = GradientsParams::from_grads(loss(&net).backward(), &net);
            let g2 = GradientsParams::from_grads(loss(&twin).backward(), &twin);
            net = burns.step(1e-2, net, g1);
            twin = ours.step(1e-2, twin, g2);
            for (p, q) in [
                (net.a.weight.val(), twin.a.weight.val()),
                (net.b.weight.val(), twin.b.weight.val()),
            ] {
                assert_eq!(p.to_data(), q.to_data(), "step {step}");
            }
            assert_eq!(
                net.b.bias.as_ref().map(|b| b.val().to_data()),
                twin.b.bias.as_ref().map(|b| b.val().to_data()),
                "step {step}"
            );
        }
    }

    #[test]
    fn fused_adam_is_burns_adam_bit_for_bit() {
        same_as_burns(
            AdamConfig::new().with_epsilon(1e-8).init(),
            ModuleOptimizer::from(FusedAdam::new(1e-8)),
        );
    }

    #[test]
    fn fused_sgd_is_burns_sgd_bit_for_bit() {
        same_as_burns(SgdConfig::new().init(), ModuleOptimizer::from(FusedSgd));
    }
}
