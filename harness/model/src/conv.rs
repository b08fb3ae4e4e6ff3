//! The CNN's convolution stage — a valid 3×3 convolution (stride 1, no
//! padding), ReLU, and a 2×2 max-pool with stride 2 that rounds up, on
//! channels-last batches — as one burn operation with a hand-written
//! backward pass on the `flex` backend.
//!
//! Forward, a few images at a time ([`chunks`]): the 3×3 windows are copied
//! into a column matrix (im2col, `[rows, 9·c_in]`; in channels-last layout
//! each window is three contiguous runs of `3·c_in` values), multiplied by
//! the weight as a `[9·c_in, c_out]` matrix, the bias added, and the result
//! pooled while it is in cache, keeping which of its window's values each
//! output took. Backward, chunk by chunk again: each output's gradient goes
//! to the value it took (zero where the ReLU cut), the weight gradient is
//! `columnsᵀ · G` (the columns made again rather than kept), the bias
//! gradient the column sums of `G`, and the input gradient `G · Wᵀ` added
//! back onto the input (col2im). The convolution's full output is never
//! stored. Composed from burn's tensor operations (slices, concatenations,
//! element-wise maxima), the same function copies each window several
//! times, zero-fills and adds a full input per window backward, and pools
//! element by element; burn-flex's own `conv2d` differentiates by further
//! convolutions.
//!
//! The operations are a burn backend extension: the dispatch glue routes a
//! tensor on the flex device to [`Conv3x3Ops`] for `Flex`, and one on its
//! autodiff device to the implementation for `Autodiff<Flex>`, which records
//! the backward step. Tests check values and gradients against burn's
//! `conv2d`, `relu` and `max_pool2d` (`net::tests`), ties included.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, Flex, backend_extension};
use burn::tensor::{Shape, Tensor, TensorData};

/// The convolution stage as backend operations.
#[backend_extension(Flex, Autodiff)]
pub trait Conv3x3Ops: burn::backend::Backend {
    /// Convolution, ReLU and pooling: `x` `[b, h, w, c_in]` (channels
    /// last), `weight` `[9·c_in, c_out]` (rows in window order: kernel row,
    /// kernel column, input channel), `bias` `[c_out]` →
    /// `[b, ⌈(h-2)/2⌉, ⌈(w-2)/2⌉, c_out]`.
    fn conv3x3_relu_pool_nhwc(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// [`Conv3x3Ops::conv3x3_relu_pool_nhwc`] on burn tensors of either flex device.
pub fn conv3x3_relu_pool_nhwc(x: Tensor<4>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Conv3x3Ops>::conv3x3_relu_pool_nhwc(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// The geometry of one convolution stage.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    b: usize,
    h: usize,
    w: usize,
    c_in: usize,
    c_out: usize,
}

impl Geometry {
    fn of(x: &FlexTensor, weight: &FlexTensor) -> Self {
        let (xs, ws) = (x.layout().shape(), weight.layout().shape());
        let [b, h, w, c_in] = [xs[0], xs[1], xs[2], xs[3]];
        assert!(
            h >= 3 && w >= 3,
            "conv3x3: image {h}×{w} smaller than the kernel"
        );
        assert_eq!(ws[0], 9 * c_in, "conv3x3: weight rows for {c_in} channels");
        Self {
            b,
            h,
            w,
            c_in,
            c_out: ws[1],
        }
    }

    /// Output pixels of the convolution over the whole batch: the column
    /// matrix's rows.
    fn rows(&self) -> usize {
        self.b * (self.h - 2) * (self.w - 2)
    }

    /// Values per image of the input, the convolution's output, and the
    /// pooled output.
    fn per_image(&self) -> (usize, usize, usize) {
        let (oh, ow) = (self.h - 2, self.w - 2);
        (
            self.h * self.w * self.c_in,
            oh * ow * self.c_out,
            oh.div_ceil(2) * ow.div_ceil(2) * self.c_out,
        )
    }

    /// The convolution's output shape `[b, oh, ow, c_out]`, for the pooling.
    fn conv_shape(&self) -> [usize; 4] {
        [self.b, self.h - 2, self.w - 2, self.c_out]
    }
}

/// A contiguous f32 tensor's values (copied only when `t` is a strided view).
fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t
    } else {
        t.to_contiguous()
    }
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .unwrap_or_else(|| unreachable!("a contiguous f32 tensor"))
}

fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, Shape::from(shape)))
}

/// im2col: row `(n, i, j)` of the result holds the window of `x` whose top
/// left corner is pixel `(i, j)` of image `n`, kernel row by kernel row, each
/// kernel row the `3·c_in` values of three neighbouring pixels.
fn im2col(x: &[f32], g: Geometry) -> Vec<f32> {
    let (oh, ow, c) = (g.h - 2, g.w - 2, g.c_in);
    let run = 3 * c;
    let mut cols = Vec::with_capacity(g.rows() * 9 * c);
    for n in 0..g.b {
        for i in 0..oh {
            for j in 0..ow {
                for di in 0..3 {
                    let start = ((n * g.h + i + di) * g.w + j) * c;
                    if run == 3 {
                        // One channel: three values, not worth a `memcpy` call.
                        cols.extend([x[start], x[start + 1], x[start + 2]]);
                    } else {
                        cols.extend_from_slice(&x[start..start + run]);
                    }
                }
            }
        }
    }
    cols
}

/// col2im, the adjoint of [`im2col`]: every column-matrix entry added onto
/// the value of `x` (`[b, h, w, c_in]`, zeros on entry) it was copied from.
fn col2im(cols: &[f32], g: Geometry, x: &mut [f32]) {
    let (oh, ow, c) = (g.h - 2, g.w - 2, g.c_in);
    let run = 3 * c;
    let mut rows = cols.chunks_exact(9 * c);
    crate::simd(|| {
        for n in 0..g.b {
            for i in 0..oh {
                for j in 0..ow {
                    let row = rows.next().unwrap_or_else(|| unreachable!("b·oh·ow rows"));
                    for (di, part) in row.chunks_exact(run).enumerate() {
                        let start = ((n * g.h + i + di) * g.w + j) * c;
                        for (to, from) in x[start..start + run].iter_mut().zip(part) {
                            *to += from;
                        }
                    }
                }
            }
        }
    });
}

/// Column-matrix values per chunk of images: the convolution goes through
/// the batch a few images at a time, so that each chunk's columns are
/// written, multiplied and dropped while they are in cache (512 KiB of
/// columns, within a core's L2), and a larger batch costs no more per image
/// than a smaller one.
const CHUNK_VALUES: usize = 1 << 17;

/// The images of each chunk: `(first, count)`.
fn chunks(g: Geometry) -> impl Iterator<Item = (usize, usize)> {
    let per_image = (g.h - 2) * (g.w - 2) * 9 * g.c_in;
    let step = (CHUNK_VALUES / per_image).clamp(1, g.b.max(1));
    (0..g.b).step_by(step).map(move |n| (n, step.min(g.b - n)))
}

/// The forward pass: the pooled output and, when `track`, which value each
/// output took ([`relu_pool`]), chunk by chunk.
fn forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    track: bool,
) -> (FlexTensor, Vec<f32>) {
    let g = Geometry::of(x, weight);
    let (xv, (image, _, pooled)) = (values(x), g.per_image());
    let bias = contiguous(bias.clone());
    let bias = values(&bias);
    let mut out = vec![0.0f32; g.b * pooled];
    let mut which = if track {
        vec![NONE; g.b * pooled]
    } else {
        Vec::new()
    };
    for (n, count) in chunks(g) {
        let part = Geometry { b: count, ..g };
        let cols = im2col(&xv[n * image..(n + count) * image], part);
        let cols = tensor(cols, vec![part.rows(), 9 * g.c_in]);
        let mut product = contiguous(Flex::float_matmul(cols, weight.clone()));
        let conv = product.storage_mut::<f32>();
        crate::simd(|| {
            for row in conv.chunks_exact_mut(g.c_out) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v += b;
                }
            }
        });
        let span = n * pooled..(n + count) * pooled;
        let which = track.then(|| &mut which[span.clone()]);
        relu_pool(conv, part.conv_shape(), &mut out[span], which);
    }
    let (oh, ow) = (g.h - 2, g.w - 2);
    (
        tensor(out, vec![g.b, oh.div_ceil(2), ow.div_ceil(2), g.c_out]),
        which,
    )
}

impl Conv3x3Ops for Flex {
    fn conv3x3_relu_pool_nhwc(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        forward(&contiguous(x), &contiguous(weight), &bias, false).0
    }
}

/// The backward step; its state is the input, the weight and which value
/// each pooled output took (the columns are made again, chunk by chunk).
#[derive(Debug)]
struct ConvStageBackward;

impl Backward<Flex, 3> for ConvStageBackward {
    type State = (FlexTensor, FlexTensor, Vec<f32>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let (x, weight, which) = ops.state;
        let grad = contiguous(grads.consume::<Flex>(&ops.node));
        if node_x.is_none() && node_w.is_none() && node_b.is_none() {
            return;
        }
        let g = Geometry::of(&x, &weight);
        let (xv, gv) = (values(&x), values(&grad));
        let ((image, conv, pooled), c_out) = (g.per_image(), g.c_out);
        let mut gw = vec![0.0f32; 9 * g.c_in * c_out];
        let mut gb = vec![0.0f32; c_out];
        let mut gx = if node_x.is_some() {
            vec![0.0f32; g.b * image]
        } else {
            Vec::new()
        };
        let weight_t = weight.transpose(0, 1);
        for (n, count) in chunks(g) {
            let part = Geometry { b: count, ..g };
            // The gradient of this chunk's convolution output.
            let mut g_conv = vec![0.0f32; count * conv];
            let span = n * pooled..(n + count) * pooled;
            unpool(
                &gv[span.clone()],
                &which[span],
                part.conv_shape(),
                &mut g_conv,
            );
            crate::simd(|| {
                for row in g_conv.chunks_exact(c_out) {
                    for (s, v) in gb.iter_mut().zip(row) {
                        *s += v;
                    }
                }
            });
            let g_conv = tensor(g_conv, vec![part.rows(), c_out]);
            if node_w.is_some() {
                let cols = im2col(&xv[n * image..(n + count) * image], part);
                let cols = tensor(cols, vec![part.rows(), 9 * g.c_in]);
                let product = Flex::float_matmul(cols.transpose(0, 1), g_conv.clone());
                crate::simd(|| {
                    for (s, v) in gw.iter_mut().zip(values(&contiguous(product))) {
                        *s += v;
                    }
                });
            }
            if node_x.is_some() {
                let dcols = contiguous(Flex::float_matmul(g_conv, weight_t.clone()));
                col2im(
                    values(&dcols),
                    part,
                    &mut gx[n * image..(n + count) * image],
                );
            }
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, tensor(gb, vec![c_out]));
        }
        if let Some(node) = node_w {
            grads.register::<Flex>(node.id, tensor(gw, vec![9 * g.c_in, c_out]));
        }
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(gx, vec![g.b, g.h, g.w, g.c_in]));
        }
    }
}

impl<C: CheckpointStrategy> Conv3x3Ops for Autodiff<Flex, C> {
    fn conv3x3_relu_pool_nhwc(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match ConvStageBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let weight = contiguous(weight.into_primitive());
                let x = contiguous(x.into_primitive());
                let (out, which) = forward(&x, &weight, bias.primitive(), true);
                prep.finish((x, weight, which), out)
            }
            OpsKind::UnTracked(prep) => {
                let (x, weight) = (
                    contiguous(x.into_primitive()),
                    contiguous(weight.into_primitive()),
                );
                prep.finish(forward(&x, &weight, bias.primitive(), false).0)
            }
        }
    }
}

/// `max(0, ·)` and the 2×2 pooling of `v` (`[b, h, w, c]`) into `out`
/// (`[b, ⌈h/2⌉, ⌈w/2⌉, c]`, zeros on entry) and, when given, `which`
/// (filled with [`NONE`] on entry): for each output, which of its window's
/// values it took, 0–3 in row-major order, as `f32` so that the selection
/// vectorises like the maximum; [`NONE`] when no value was positive, so the
/// output is the ReLU's zero and passes no gradient. Ties go to the first
/// maximum in row-major order, as burn's `max_pool2d` does. A window past an
/// odd last row or column has fewer values. The inner loops run over a
/// pixel's channels, branch-free.
fn relu_pool(v: &[f32], [b, h, w, c]: [usize; 4], out: &mut [f32], mut which: Option<&mut [f32]>) {
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    let mut k = 0;
    crate::simd(|| {
        for n in 0..b {
            for i in 0..h2 {
                for j in 0..w2 {
                    let o = &mut out[k..k + c];
                    for (q, (di, dj)) in [(0, 0), (0, 1), (1, 0), (1, 1)].into_iter().enumerate() {
                        let (r, col) = (2 * i + di, 2 * j + dj);
                        if r >= h || col >= w {
                            continue;
                        }
                        let start = ((n * h + r) * w + col) * c;
                        let input = &v[start..start + c];
                        match which.as_deref_mut() {
                            Some(which) => take_larger(o, &mut which[k..k + c], input, q as f32),
                            None => {
                                for (o, &x) in o.iter_mut().zip(input) {
                                    *o = if x > *o { x } else { *o };
                                }
                            }
                        }
                    }
                    k += c;
                }
            }
        }
    });
}

/// The adjoint of [`relu_pool`]: each output's gradient in `g` added to
/// the input value it took, in `gx` (`[b, h, w, c]`, zeros on entry).
fn unpool(g: &[f32], which: &[f32], [b, h, w, c]: [usize; 4], gx: &mut [f32]) {
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    let mut k = 0;
    for n in 0..b {
        for i in 0..h2 {
            for j in 0..w2 {
                for ch in 0..c {
                    let q = which[k + ch];
                    if q != NONE {
                        let q = q as usize;
                        let (r, col) = (2 * i + q / 2, 2 * j + q % 2);
                        gx[((n * h + r) * w + col) * c + ch] = g[k + ch];
                    }
                }
                k += c;
            }
        }
    }
}

/// Where `input` beats the running maximum `o`, take its value and mark
/// `which` with `q`; eight lanes at a time so that the compiler vectorises
/// both selections.
#[inline(always)]
fn take_larger(o: &mut [f32], which: &mut [f32], input: &[f32], q: f32) {
    #[inline(always)]
    fn lanes<const N: usize>(o: &mut [f32], which: &mut [f32], input: &[f32], q: f32) {
        let mut ov = [0.0f32; N];
        let mut wv = [0.0f32; N];
        ov.copy_from_slice(o);
        wv.copy_from_slice(which);
        for l in 0..N {
            let better = input[l] > ov[l];
            ov[l] = if better { input[l] } else { ov[l] };
            wv[l] = if better { q } else { wv[l] };
        }
        o.copy_from_slice(&ov);
        which.copy_from_slice(&wv);
    }
    let split = o.len() - o.len() % 8;
    for ((o, w), x) in o[..split]
        .chunks_exact_mut(8)
        .zip(which[..split].chunks_exact_mut(8))
        .zip(input[..split].chunks_exact(8))
    {
        lanes::<8>(o, w, x, q);
    }
    for ((o, w), x) in o[split..]
        .iter_mut()
        .zip(&mut which[split..])
        .zip(&input[split..])
    {
        lanes::<1>(
            std::slice::from_mut(o),
            std::slice::from_mut(w),
            std::slice::from_ref(x),
            q,
        );
    }
}

/// No value of the window was positive.
const NONE: f32 = -1.0;
