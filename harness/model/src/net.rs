//! The network: optional conv-pool stages followed by dense layers.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Tensor, TensorData};
use poisonlab_core::Rng;
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

impl Net {
    /// Build the network for `params`, with weights drawn from `rng` the way
    /// PyTorch initialises its layers: U(−1/√fan_in, 1/√fan_in) for weights and biases.
    pub fn new(
        params: &ModelParams,
        shape: &[usize],
        n_classes: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<(Self, InputShape), ModelError> {
        let dim: usize = shape.iter().product();
        let mut convs = Vec::new();
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
                for (cin, cout) in [(c, 16), (16, 32)] {
                    convs.push(conv3x3(cin, cout, rng, device));
                }
                let flat = 32 * conv_pool(conv_pool(h)) * conv_pool(conv_pool(w));
                (vec![flat, 128, n_classes], Some([c, h, w]))
            }
        };
        let dense = widths
            .windows(2)
            .map(|io| linear(io[0], io[1], rng, device))
            .collect();
        Ok((Self { convs, dense }, InputShape { dim, image }))
    }

    /// Penultimate activations: the input of the last dense layer. `x` is `[batch, dim]`.
    pub fn embed(&self, x: Tensor<2>, shape: &InputShape) -> Tensor<2> {
        let mut x = x;
        if let Some([c, h, w]) = shape.image {
            let batch = x.dims()[0];
            let mut img: Tensor<4> = x.reshape([batch, c, h, w]); // [batch, c, h, w]
            for conv in &self.convs {
                // conv 3×3 valid: [batch, out, h-2, w-2]; pool, rounding up: [batch, out, ⌈(h-2)/2⌉, ⌈(w-2)/2⌉]
                img = max_pool2d(relu(conv.forward(img)), pool2());
            }
            x = img.flatten(1, 3); // [batch, 32 · h' · w']
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

fn pool2() -> MaxPoolOptions<2> {
    let mut options = MaxPoolOptions::new([2, 2]); // stride 2, no padding
    options.ceil_mode = true; // a last odd row/column gets its own window
    options
}

fn uniform(n: usize, fan_in: usize, rng: &mut Rng) -> Vec<f32> {
    let bound = 1.0 / (fan_in as f32).sqrt();
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

fn linear(d_in: usize, d_out: usize, rng: &mut Rng, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(d_in, d_out).init(device);
    // Burn stores dense weights as [d_in, d_out].
    let w = TensorData::new(uniform(d_in * d_out, d_in, rng), [d_in, d_out]);
    let b = TensorData::new(uniform(d_out, d_in, rng), [d_out]);
    layer.weight = Param::from_tensor(Tensor::from_data(w, device));
    layer.bias = Some(Param::from_tensor(Tensor::from_data(b, device)));
    layer
}

fn conv3x3(c_in: usize, c_out: usize, rng: &mut Rng, device: &Device) -> Conv2d {
    let mut layer = Conv2dConfig::new([c_in, c_out], [3, 3]).init(device);
    let fan_in = c_in * 9;
    let w = TensorData::new(uniform(c_out * fan_in, fan_in, rng), [c_out, c_in, 3, 3]);
    let b = TensorData::new(uniform(c_out, fan_in, rng), [c_out]);
    layer.weight = Param::from_tensor(Tensor::from_data(w, device));
    layer.bias = Some(Param::from_tensor(Tensor::from_data(b, device)));
    layer
}
