//! The network: optional conv-pool stages followed by dense layers.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::ops::PadMode;
use burn::tensor::{Device, Tensor, TensorData};
use poisonlab_core::{ParameterError, Rng};
use rand::Rng as _;

use crate::{ModelError, ModelKind, ModelParams};

/// Input layout the network was built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputShape {
    /// Values per sample.
    pub dim: usize,
    /// `[channels, height, width]` for the CNN; `None` for dense-only models.
    pub image: Option<[usize; 3]>,
}

/// The trainable network. Dense-only models have no conv stages; the
/// embedding is the input of the last dense layer.
#[derive(Module, Debug)]
pub struct Net {
    convs: Vec<Conv2d>,
    dense: Vec<Linear>,
}

/// Output width of a valid 3×3 convolution followed by a 2×2 max-pool that
/// rounds up. Rounding up keeps the image borders in play: with a flooring pool
/// a 28-pixel image loses its last row and column at the second pooling (11 → 5),
/// which is exactly where corner triggers sit.
fn conv_pool(size: usize) -> usize {
    (size - 2).div_ceil(2)
}

/// Where a new network's weights come from.
pub enum Weights<'a> {
    /// Drawn from the stream the way PyTorch initialises its layers:
    /// U(−1/√fan_in, 1/√fan_in) for weights and biases, tensor by tensor in
    /// parameter order.
    Fresh(&'a mut Rng),
    /// A parameter vector in the documented order ([`poisonlab_core::Model`]).
    Given(&'a [f32]),
}

/// A layer of the architecture, before it has weights.
#[derive(Debug, PartialEq, Eq)]
enum Layer {
    /// 3×3 convolution `c_in → c_out`.
    Conv(usize, usize),
    /// Dense layer `d_in → d_out`.
    Dense(usize, usize),
}

impl Layer {
    /// Parameters per tensor (weight, bias) and the fan-in of both.
    fn sizes(&self) -> ([usize; 2], usize) {
        match *self {
            Layer::Conv(c_in, c_out) => ([c_out * c_in * 9, c_out], c_in * 9),
            Layer::Dense(d_in, d_out) => ([d_in * d_out, d_out], d_in),
        }
    }
}

/// The layers and input layout of the network for `params` and data of
/// `shape` with `n_classes` classes.
fn architecture(
    params: &ModelParams,
    shape: &[usize],
    n_classes: usize,
) -> Result<(Vec<Layer>, InputShape), ModelError> {
    let dim: usize = shape.iter().product();
    let mut layers = Vec::new();
    let (widths, image) = match params.kind {
        ModelKind::Logreg => (vec![dim, n_classes], None),
        ModelKind::Mlp => {
            let mut w = vec![dim];
            w.extend(&params.hidden);
            w.push(n_classes);
            (w, None)
        }
        ModelKind::Cnn => {
            let &[c, h, w] = shape else {
                return Err(ModelError::CnnNeedsImages(shape.to_vec()));
            };
            if h < 6 || w < 6 {
                return Err(ModelError::ImageTooSmall {
                    height: h,
                    width: w,
                });
            }
            layers.extend([Layer::Conv(c, 16), Layer::Conv(16, 32)]);
            let flat = 32 * conv_pool(conv_pool(h)) * conv_pool(conv_pool(w));
            (vec![flat, 128, n_classes], Some([c, h, w]))
        }
    };
    layers.extend(widths.windows(2).map(|io| Layer::Dense(io[0], io[1])));
    Ok((layers, InputShape { dim, image }))
}

impl Net {
    /// Build the network for `params` and data of `shape` with `n_classes`
    /// classes, its weights drawn or given as `weights` says.
    pub fn new(
        params: &ModelParams,
        shape: &[usize],
        n_classes: usize,
        weights: Weights<'_>,
        device: &Device,
    ) -> Result<(Self, InputShape), ModelError> {
        let (layers, input) = architecture(params, shape, n_classes)?;
        let n: usize = layers
            .iter()
            .map(|l| l.sizes().0.iter().sum::<usize>())
            .sum();
        let drawn;
        let values = match weights {
            Weights::Given(values) => {
                ParameterError::check(n, values)?;
                values
            }
            Weights::Fresh(rng) => {
                let mut v = Vec::with_capacity(n);
                for layer in &layers {
                    let (sizes, fan_in) = layer.sizes();
                    for size in sizes {
                        v.extend(uniform(size, fan_in, rng));
                    }
                }
                drawn = v;
                &drawn
            }
        };
        let mut rest = values;
        let mut convs = Vec::new();
        let mut dense = Vec::new();
        for layer in &layers {
            match *layer {
                Layer::Conv(c_in, c_out) => {
                    let mut conv = Conv2dConfig::new([c_in, c_out], [3, 3]).init(device);
                    conv.weight = take(&mut rest, [c_out, c_in, 3, 3], device);
                    conv.bias = Some(take(&mut rest, [c_out], device));
                    convs.push(conv);
                }
                Layer::Dense(d_in, d_out) => {
                    let mut linear = LinearConfig::new(d_in, d_out).init(device);
                    // Burn stores dense weights as [d_in, d_out].
                    linear.weight = take(&mut rest, [d_in, d_out], device);
                    linear.bias = Some(take(&mut rest, [d_out], device));
                    dense.push(linear);
                }
            }
        }
        debug_assert!(rest.is_empty());
        Ok((Self { convs, dense }, input))
    }

    /// Whether this network, built for the input layout `input`, has the
    /// architecture [`Net::new`] builds for `params` and data of `shape` with
    /// `n_classes` classes. Fails as [`Net::new`] would for such data.
    pub fn fits(
        &self,
        input: &InputShape,
        params: &ModelParams,
        shape: &[usize],
        n_classes: usize,
    ) -> Result<bool, ModelError> {
        let (layers, wanted) = architecture(params, shape, n_classes)?;
        let convs = self.convs.iter().map(|c| {
            let [c_out, c_in, _, _] = c.weight.dims();
            Layer::Conv(c_in, c_out)
        });
        let dense = self.dense.iter().map(|d| {
            let [d_in, d_out] = d.weight.dims();
            Layer::Dense(d_in, d_out)
        });
        Ok(*input == wanted && convs.chain(dense).eq(layers))
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        let conv = self
            .convs
            .iter()
            .map(|c| c.weight.shape().num_elements() + bias(&c.bias).shape().num_elements());
        let dense = self
            .dense
            .iter()
            .map(|d| d.weight.shape().num_elements() + bias(&d.bias).shape().num_elements());
        conv.chain(dense).sum()
    }

    /// Every trainable parameter, in the documented order
    /// ([`poisonlab_core::Model`]).
    pub fn parameters(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.n_parameters());
        for conv in &self.convs {
            out.extend(values(conv.weight.val()));
            out.extend(values(bias(&conv.bias).val()));
        }
        for layer in &self.dense {
            out.extend(values(layer.weight.val()));
            out.extend(values(bias(&layer.bias).val()));
        }
        out
    }

    /// The gradient `grads` holds for every parameter, in the documented
    /// order (zeros for a parameter the objective did not reach).
    pub fn parameter_gradient(&self, grads: &burn::tensor::Gradients) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.n_parameters());
        for conv in &self.convs {
            push_grad(&mut out, conv.weight.val(), grads);
            push_grad(&mut out, bias(&conv.bias).val(), grads);
        }
        for layer in &self.dense {
            push_grad(&mut out, layer.weight.val(), grads);
            push_grad(&mut out, bias(&layer.bias).val(), grads);
        }
        out
    }

    /// The same network with the parameters `values` (documented order) on
    /// `device`; refuses a vector of the wrong length or with a non-finite value.
    pub fn with_parameters(&self, values: &[f32], device: &Device) -> Result<Self, ParameterError> {
        ParameterError::check(self.n_parameters(), values)?;
        let mut rest = values;
        let mut net = self.clone();
        for conv in &mut net.convs {
            conv.weight = take(&mut rest, conv.weight.dims(), device);
            conv.bias = Some(take(&mut rest, bias(&conv.bias).dims(), device));
        }
        for layer in &mut net.dense {
            layer.weight = take(&mut rest, layer.weight.dims(), device);
            layer.bias = Some(take(&mut rest, bias(&layer.bias).dims(), device));
        }
        Ok(net)
    }

    /// Penultimate activations: the input of the last dense layer. `x` is `[batch, dim]`.
    pub fn embed(&self, x: Tensor<2>, shape: &InputShape) -> Tensor<2> {
        let mut x = x;
        if let Some([c, h, w]) = shape.image {
            let batch = x.dims()[0];
            // Channels last: each 3×3 window's values are then contiguous
            // runs of `c` values, and a convolution is one matrix product.
            let img: Tensor<4> = x.reshape([batch, c, h, w]); // [batch, c, h, w]
            let mut img = if c == 1 {
                img.reshape([batch, h, w, 1])
            } else {
                img.permute([0, 2, 3, 1]) // [batch, h, w, c]
            };
            for conv in &self.convs {
                // conv 3×3 valid: [batch, h-2, w-2, out]; pool, rounding up: [batch, ⌈(h-2)/2⌉, ⌈(w-2)/2⌉, out]
                img = conv3x3_relu_pool_nhwc(img, conv);
            }
            // Back to channels first, so the dense layer sees the documented order.
            x = img.permute([0, 3, 1, 2]).flatten(1, 3); // [batch, 32 · h' · w']
        }
        let last = self.dense.len() - 1;
        for layer in &self.dense[..last] {
            x = relu(layer.forward(x)); // [batch, width]
        }
        x
    }

    /// Class logits, `[batch, classes]`.
    pub fn forward(&self, x: Tensor<2>, shape: &InputShape) -> Tensor<2> {
        let last = self.dense.len() - 1;
        self.dense[last].forward(self.embed(x, shape))
    }
}

/// One convolution stage of a channels-last batch `[b, h, w, c_in]`: a
/// valid 3×3 convolution (stride 1, no padding) with `conv`'s weight
/// `[c_out, c_in, 3, 3]` and bias, ReLU, and a 2×2 max-pool with stride 2
/// that rounds up → `[b, ⌈(h-2)/2⌉, ⌈(w-2)/2⌉, c_out]`. The convolution is
/// the nine shifted windows side by side (im2col, `[b·(h-2)·(w-2), 9·c_in]`)
/// times the weight as a `[9·c_in, c_out]` matrix. On flex the stage is one
/// operation with a hand-written backward pass ([`crate::conv`]); elsewhere
/// it is composed from burn's operations ([`conv3x3_composed`],
/// [`pool2x2_ceil_nhwc`]). Both are burn's `conv2d`, `relu` and `max_pool2d`
/// with `ceil_mode` (a test checks values and gradients).
fn conv3x3_relu_pool_nhwc(x: Tensor<4>, conv: &Conv2d) -> Tensor<4> {
    let c_in = x.dims()[3];
    let weight = conv.weight.val(); // [c_out, c_in, 3, 3]
    let c_out = weight.dims()[0];
    // [3, 3, c_in, c_out] → [9·c_in, c_out], rows in the windows' order.
    let weight: Tensor<2> = weight.permute([2, 3, 1, 0]).reshape([9 * c_in, c_out]);
    let bias = bias(&conv.bias).val();
    #[cfg(feature = "flex-portable")]
    {
        crate::conv::conv3x3_relu_pool_nhwc(x, weight, bias)
    }
    #[cfg(not(feature = "flex-portable"))]
    {
        pool2x2_ceil_nhwc(relu(conv3x3_composed(x, weight, bias)))
    }
}

/// The convolution of [`conv3x3_relu_pool_nhwc`] from burn's tensor operations, with the weight as a
/// `[9·c_in, c_out]` matrix. With 8 or more input channels the nine windows
/// are not put side by side: each is multiplied by its `[c_in, c_out]` slice
/// of the weight and the nine products summed, which copies each window
/// once instead of twice (burn's `cat` makes each input contiguous, then
/// copies it again).
#[cfg_attr(feature = "flex-portable", allow(dead_code))]
fn conv3x3_composed(x: Tensor<4>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<4> {
    let [b, h, w, c_in] = x.dims();
    let (oh, ow) = (h - 2, w - 2);
    let c_out = weight.dims()[1];
    let shifts = (0..3).flat_map(|i| (0..3).map(move |j| (i, j)));
    let window = |(i, j): (usize, usize)| x.clone().slice([0..b, i..i + oh, j..j + ow, 0..c_in]);
    let out = if c_in >= 8 {
        let weight: Tensor<3> = weight.reshape([9, c_in, c_out]);
        let mut sum: Option<Tensor<2>> = None;
        for (k, shift) in shifts.enumerate() {
            let w_k: Tensor<2> = weight
                .clone()
                .slice([k..k + 1, 0..c_in, 0..c_out])
                .reshape([c_in, c_out]);
            let p = window(shift).reshape([b * oh * ow, c_in]).matmul(w_k);
            sum = Some(match sum {
                None => p,
                Some(s) => s + p,
            });
        }
        sum.unwrap_or_else(|| unreachable!("nine shifts"))
    } else {
        let windows: Vec<Tensor<4>> = shifts.map(window).collect();
        let columns: Tensor<2> = Tensor::cat(windows, 3).reshape([b * oh * ow, 9 * c_in]);
        columns.matmul(weight)
    };
    let out = out + bias.unsqueeze::<2>();
    out.reshape([b, oh, ow, c_out])
}

/// 2×2 max-pool with stride 2 that rounds up, of a channels-last batch of
/// non-negative inputs (it follows a ReLU) `[b, h, w, c]` → `[b, ⌈h/2⌉,
/// ⌈w/2⌉, c]`: the values and input gradients of burn's `max_pool2d` with
/// `ceil_mode` (a test checks both). An odd last row or column gets a zero
/// partner, which cannot beat a non-negative value; each pair of neighbours
/// is then the two halves of one row, combined by [`larger`] (ties to the
/// first, as burn's pooling). burn's `flex` backend pools element by element
/// through generic 3-D code (about 40 % of the CNN's training time once);
/// slices and element-wise operations are fast.
#[cfg_attr(feature = "flex-portable", allow(dead_code))]
fn pool2x2_ceil_nhwc(x: Tensor<4>) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    let x = if h % 2 == 1 || w % 2 == 1 {
        x.pad(
            [(0, 0), (0, h2 * 2 - h), (0, w2 * 2 - w), (0, 0)],
            PadMode::Constant(0.0),
        )
    } else {
        x
    };
    // Columns: [b·2h2·w2, 2c] → [b·2h2·w2, c].
    let x: Tensor<2> = x.reshape([b * 2 * h2 * w2, 2 * c]);
    let rows = b * 2 * h2 * w2;
    let x = larger(
        x.clone().slice([0..rows, 0..c]),
        x.slice([0..rows, c..2 * c]),
    );
    // Rows: [b·h2, 2·w2·c] → [b·h2, w2·c].
    let x = x.reshape([b * h2, 2 * w2 * c]);
    let (rows, half) = (b * h2, w2 * c);
    larger(
        x.clone().slice([0..rows, 0..half]),
        x.slice([0..rows, half..2 * half]),
    )
    .reshape([b, h2, w2, c])
}

/// The element-wise larger of `p` and `q`, exactly: `m·p + (1 − m)·q` with
/// `m = [p ≥ q]` (a constant to autodiff), so one term is the value and the
/// other zero. Ties go to `p`, the first of the pair, so a window's gradient
/// goes to its first maximum in row-major order (as burn's pooling does) and
/// never to the zero partner of an odd last row or column. (burn-flex's
/// `mask_where`, which `max_pair` uses, is slow.)
#[cfg_attr(feature = "flex-portable", allow(dead_code))]
fn larger(p: Tensor<2>, q: Tensor<2>) -> Tensor<2> {
    let m = p.clone().greater_equal(q.clone()).float();
    let rest = m.clone().neg().add_scalar(1.0);
    p * m + q * rest
}

fn uniform(n: usize, fan_in: usize, rng: &mut Rng) -> Vec<f32> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// A layer's bias (every layer has one).
fn bias(b: &Option<Param<Tensor<1>>>) -> &Param<Tensor<1>> {
    b.as_ref()
        .unwrap_or_else(|| unreachable!("every layer is built with a bias"))
}

/// A parameter of shape `dims` from the first values of `rest`, which it
/// then skips; `rest` holds at least that many.
fn take<const D: usize>(rest: &mut &[f32], dims: [usize; D], device: &Device) -> Param<Tensor<D>> {
    let (head, tail) = rest.split_at(dims.iter().product());
    *rest = tail;
    Param::from_tensor(Tensor::from_data(
        TensorData::new(head.to_vec(), dims),
        device,
    ))
}

/// A tensor's values, row-major.
/// Append the gradient of `t` in `grads` (row-major), or zeros when it has none.
fn push_grad<const D: usize>(out: &mut Vec<f32>, t: Tensor<D>, grads: &burn::tensor::Gradients) {
    match t.grad(grads) {
        Some(g) => out.extend(values(g)),
        None => out.extend(std::iter::repeat_n(0.0, t.shape().num_elements())),
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .unwrap_or_else(|e| unreachable!("parameters are f32: {e:?}"))
}

#[cfg(test)]
mod tests {
    use burn::tensor::module::max_pool2d;
    use burn::tensor::ops::MaxPoolOptions;
    use poisonlab_core::seed::stream;
    use rand::Rng as _;

    use super::*;

    /// A tensor of `dims` with values uniform in ±1, from `rng`.
    fn random<const D: usize>(rng: &mut Rng, dims: [usize; D], device: &Device) -> Tensor<D> {
        let n = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        Tensor::from_data(TensorData::new(v, dims), device)
    }

    fn close<const D: usize>(a: Tensor<D>, b: Tensor<D>, tol: f32, what: &str) {
        assert_eq!(a.dims(), b.dims(), "{what}: shapes");
        let (a, b) = (values(a), values(b));
        let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!((x - y).abs() <= tol * scale, "{what}[{i}]: {x} vs {y}");
        }
    }

    /// The channels-last convolution and pooling are burn's `conv2d` and
    /// `max_pool2d` (ceil mode) after a ReLU: values, and the gradients of a
    /// weighted sum with respect to the input, the weight and the bias; both
    /// the network's path (on flex the hand-written operations of
    /// [`crate::conv`], several images per chunk and one) and the one
    /// composed from burn's operations; and the values on the inference
    /// device.
    #[test]
    fn conv_and_pool_channels_last_equal_burns() {
        use burn::tensor::module::conv2d;
        use burn::tensor::ops::ConvOptions;
        type Path = fn(Tensor<4>, &Conv2d) -> Tensor<4>;
        let network: Path = conv3x3_relu_pool_nhwc;
        let composed: Path = |x, conv| {
            let [c_out, c_in, _, _] = conv.weight.dims();
            let weight = conv
                .weight
                .val()
                .permute([2, 3, 1, 0])
                .reshape([9 * c_in, c_out]);
            pool2x2_ceil_nhwc(relu(conv3x3_composed(x, weight, bias(&conv.bias).val())))
        };
        let device = crate::backend::autodiff_device();
        let mut rng = stream(5, 0, "conv");
        // [40, 16, 32, 13, 13] spans several chunks.
        for [b, c_in, c_out, h, w] in [
            [2, 1, 16, 28, 28],
            [3, 16, 32, 13, 13],
            [40, 16, 32, 13, 13],
            [1, 3, 4, 8, 5],
        ] {
            let x = random(&mut rng, [b, c_in, h, w], &device);
            let mut conv = Conv2dConfig::new([c_in, c_out], [3, 3]).init(&device);
            conv.weight = Param::from_tensor(random(&mut rng, [c_out, c_in, 3, 3], &device));
            conv.bias = Some(Param::from_tensor(random(&mut rng, [c_out], &device)));
            let (oh, ow) = ((h - 2).div_ceil(2), (w - 2).div_ceil(2));
            let weights = random(&mut rng, [b, c_out, oh, ow], &device);

            let x2 = x.clone().require_grad();
            let (wt, bs) = (conv.weight.val(), bias(&conv.bias).val());
            let mut options = MaxPoolOptions::new([2, 2]);
            options.ceil_mode = true;
            let burns = max_pool2d(
                relu(conv2d(
                    x2.clone(),
                    wt.clone(),
                    Some(bs.clone()),
                    ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
                )),
                options,
            );
            let g2 = (burns.clone() * weights.clone()).sum().backward();
            type Grads = burn::tensor::Gradients;
            let grad = |t: Tensor<4>, g: &Grads| t.grad(g).map(Tensor::<4>::from_inner).unwrap();
            let wgrad = |g: &Grads| Tensor::<4>::from_inner(wt.grad(g).unwrap());
            let bgrad = |g: &Grads| Tensor::<1>::from_inner(bs.grad(g).unwrap());

            for (path, f) in [("network", network), ("composed", composed)] {
                let what = format!("{path} {:?}", [b, c_in, c_out, h, w]);
                let x1 = x.clone().require_grad();
                let ours = f(x1.clone().permute([0, 2, 3, 1]), &conv).permute([0, 3, 1, 2]);
                let g1 = (ours.clone() * weights.clone()).sum().backward();
                close(ours, burns.clone(), 1e-5, &format!("values {what}"));
                close(
                    grad(x1, &g1),
                    grad(x2.clone(), &g2),
                    1e-5,
                    &format!("input gradient {what}"),
                );
                close(
                    wgrad(&g1),
                    wgrad(&g2),
                    1e-5,
                    &format!("weight gradient {what}"),
                );
                close(
                    bgrad(&g1),
                    bgrad(&g2),
                    1e-5,
                    &format!("bias gradient {what}"),
                );
            }
            // Inference: the same values without autodiff.
            let plain = crate::backend::device();
            let mut conv_plain = Conv2dConfig::new([c_in, c_out], [3, 3]).init(&plain);
            conv_plain.weight = Param::from_tensor(Tensor::from_data(wt.to_data(), &plain));
            conv_plain.bias = Some(Param::from_tensor(Tensor::from_data(bs.to_data(), &plain)));
            let x_plain = Tensor::<4>::from_data(x.to_data(), &plain);
            let ours = network(x_plain.permute([0, 2, 3, 1]), &conv_plain).permute([0, 3, 1, 2]);
            close(
                Tensor::from_data(ours.to_data(), &device),
                burns,
                1e-5,
                &format!("inference values {:?}", [b, c_in, c_out, h, w]),
            );
        }
    }

    /// Exactly burn's `relu` then `max_pool2d` with `ceil_mode`, even and
    /// odd sizes, values and input gradients, with many ties (values in
    /// quarters, zeros and negatives among them): the network's stage (on
    /// flex the hand-written operation) with a convolution that copies its
    /// input (weight 1 at the centre tap of each channel's own kernel, bias
    /// 0: exact), so that it pools the input without its border; and the
    /// composed pooling after burn's `relu` of the same crop.
    #[test]
    fn pooling_equals_burns_max_pool_with_ceil_mode() {
        let device = crate::backend::autodiff_device();
        let crop = |x: Tensor<4>| {
            let [b, h, w, c] = x.dims();
            x.slice([0..b, 1..h - 1, 1..w - 1, 0..c])
        };
        let mut rng = stream(5, 0, "pool");
        for [b, c, h, w] in [
            [2, 3, 26, 26],
            [3, 2, 11, 11],
            [1, 1, 5, 8],
            [2, 1, 3, 3],
            [2, 16, 7, 6],
        ] {
            let mut copy = Conv2dConfig::new([c, c], [3, 3]).init(&device);
            let centre: Vec<f32> = (0..c * c * 9)
                .map(|k| f32::from(k / 9 / c == k / 9 % c && k % 9 == 4))
                .collect();
            copy.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(centre, [c, c, 3, 3]),
                &device,
            ));
            copy.bias = Some(Param::from_tensor(Tensor::zeros([c], &device)));
            type Path<'a> = Box<dyn Fn(Tensor<4>) -> Tensor<4> + 'a>;
            let network: Path<'_> = Box::new(|x| conv3x3_relu_pool_nhwc(x, &copy));
            let composed: Path<'_> = Box::new(|x| pool2x2_ceil_nhwc(relu(crop(x))));
            let values: Vec<f32> = (0..b * c * h * w)
                .map(|_| (rng.random_range(-1.0f32..1.0) * 4.0).round() / 4.0)
                .collect();
            let input =
                || Tensor::<4>::from_data(TensorData::new(values.clone(), [b, c, h, w]), &device);
            let mut options = MaxPoolOptions::new([2, 2]);
            options.ceil_mode = true;
            let x2 = input().require_grad();
            let burns = max_pool2d(
                relu(crop(x2.clone().permute([0, 2, 3, 1])).permute([0, 3, 1, 2])),
                options,
            );
            // Each window's gradient goes to its first maximum.
            let weights = Tensor::<4>::from_data(
                TensorData::new(
                    (0..burns.dims().iter().product::<usize>())
                        .map(|i| 1.0 + i as f32)
                        .collect::<Vec<_>>(),
                    burns.dims(),
                ),
                &device,
            );
            let g2 = x2.grad(&(burns.clone() * weights.clone()).sum().backward());
            let g2 = g2.map(|g| g.to_data());
            for (path, f) in [("network", &network), ("composed", &composed)] {
                let x1 = input().require_grad();
                let ours = f(x1.clone().permute([0, 2, 3, 1])).permute([0, 3, 1, 2]);
                assert_eq!(ours.dims(), burns.dims());
                assert_eq!(ours.to_data(), burns.to_data(), "{path} {:?}", [b, c, h, w]);
                let g1 = x1.grad(&(ours * weights.clone()).sum().backward());
                let g1 = g1.map(|g| g.to_data());
                assert!(g1.is_some());
                assert_eq!(
                    g1,
                    g2,
                    "{path}: input gradients differ for {:?}",
                    [b, c, h, w]
                );
            }
        }
    }
}
