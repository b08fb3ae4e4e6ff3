//! The CNN's valid 3×3 convolution (stride 1, no padding) on channels-last
//! batches, as one burn operation with a hand-written backward pass on the
//! `flex` backend.
//!
//! Forward: the input's 3×3 windows are copied once into a column matrix
//! (im2col, `[b·oh·ow, 9·c_in]`; each window row is three contiguous runs
//! of `3·c_in` values in channels-last layout), multiplied by the weight as
//! a `[9·c_in, c_out]` matrix, and the bias added in place. Backward: the
//! weight gradient is `columnsᵀ · G`, the bias gradient the column sums of
//! `G`, and the input gradient `G · Wᵀ` scattered back onto the input
//! (col2im), each one pass or one matrix product. Composed from burn's
//! tensor operations (slices and concatenations), the same function copies
//! each window several times forward and zero-fills and adds a full input
//! per window backward; burn-flex's own `conv2d` differentiates by further
//! convolutions.
//!
//! The operation is a burn backend extension: the dispatch glue routes a
//! tensor on the flex device to [`Conv3x3Ops`] for `Flex`, and one on its
//! autodiff device to the implementation for `Autodiff<Flex>`, which records
//! the backward step. A test checks values and all three gradients against
//! burn's `conv2d` (`net::tests`).

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

/// The convolution as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub trait Conv3x3Ops: burn::backend::Backend {
    /// `x` `[b, h, w, c_in]` (channels last), `weight` `[9·c_in, c_out]`
    /// (rows in window order: kernel row, kernel column, input channel),
    /// `bias` `[c_out]` → `[b, h-2, w-2, c_out]`.
    fn conv3x3_nhwc(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `max(0, ·)` then a 2×2 max-pool with stride 2 that rounds up, of a
    /// channels-last batch `[b, h, w, c]` → `[b, ⌈h/2⌉, ⌈w/2⌉, c]`.
    fn relu_pool2x2_nhwc(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// [`Conv3x3Ops::conv3x3_nhwc`] on burn tensors of either flex device.
pub fn conv3x3_nhwc(x: Tensor<4>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Conv3x3Ops>::conv3x3_nhwc(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// [`Conv3x3Ops::relu_pool2x2_nhwc`] on burn tensors of either flex device.
pub fn relu_pool2x2_nhwc(x: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Conv3x3Ops>::relu_pool2x2_nhwc(
        x.into_dispatch(),
    ))
}

/// The geometry of one convolution.
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

    /// Output pixels of the whole batch: the column matrix's rows.
    fn rows(&self) -> usize {
        self.b * (self.h - 2) * (self.w - 2)
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
/// written, multiplied and dropped while they are in cache (2 MiB per core
/// or less), and a larger batch costs no more per image than a smaller one.
const CHUNK_VALUES: usize = 1 << 17;

/// The images of each chunk: `(first, count)`.
fn chunks(g: Geometry) -> impl Iterator<Item = (usize, usize)> {
    let per_image = (g.h - 2) * (g.w - 2) * 9 * g.c_in;
    let step = (CHUNK_VALUES / per_image).clamp(1, g.b.max(1));
    (0..g.b).step_by(step).map(move |n| (n, step.min(g.b - n)))
}

/// The forward pass, `[b, oh, ow, c_out]`, chunk by chunk ([`chunks`]).
fn forward(x: FlexTensor, weight: FlexTensor, bias: &FlexTensor) -> FlexTensor {
    let x = contiguous(x);
    let g = Geometry::of(&x, &weight);
    let (xv, image) = (values(&x), g.h * g.w * g.c_in);
    let bias = contiguous(bias.clone());
    let bias = values(&bias);
    let mut out = Vec::with_capacity(g.rows() * g.c_out);
    for (n, count) in chunks(g) {
        let part = Geometry { b: count, ..g };
        let cols = im2col(&xv[n * image..(n + count) * image], part);
        let cols = tensor(cols, vec![part.rows(), 9 * g.c_in]);
        let product = Flex::float_matmul(cols, weight.clone());
        for row in values(&contiguous(product)).chunks_exact(g.c_out) {
            out.extend(row.iter().zip(bias).map(|(v, b)| v + b));
        }
    }
    tensor(out, vec![g.b, g.h - 2, g.w - 2, g.c_out])
}

impl Conv3x3Ops for Flex {
    fn conv3x3_nhwc(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        forward(x, weight, &bias)
    }

    fn relu_pool2x2_nhwc(x: FlexTensor) -> FlexTensor {
        relu_pool_forward(x, false).0
    }
}

/// The backward step; its state is the input and the weight (the columns
/// are made again, chunk by chunk, rather than kept).
#[derive(Debug)]
struct Conv3x3Backward;

impl Backward<Flex, 3> for Conv3x3Backward {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let (x, weight) = ops.state;
        let g = Geometry::of(&x, &weight);
        let (xv, image, c_out) = (values(&x), g.h * g.w * g.c_in, g.c_out);
        let grad = grads.consume::<Flex>(&ops.node);
        // [b, oh, ow, c_out] → [b·oh·ow, c_out]
        let grad = contiguous(grad).reshape(Shape::from(vec![g.rows(), c_out]));
        if let Some(node) = node_b {
            let mut sum = vec![0.0f32; c_out];
            for row in values(&grad).chunks_exact(c_out) {
                for (s, v) in sum.iter_mut().zip(row) {
                    *s += v;
                }
            }
            grads.register::<Flex>(node.id, tensor(sum, vec![c_out]));
        }
        if node_w.is_none() && node_x.is_none() {
            return;
        }
        let mut gw = vec![0.0f32; 9 * g.c_in * c_out];
        let mut gx = if node_x.is_some() {
            vec![0.0f32; g.b * image]
        } else {
            Vec::new()
        };
        let weight_t = weight.transpose(0, 1);
        let pixels = (g.h - 2) * (g.w - 2);
        for (n, count) in chunks(g) {
            let part = Geometry { b: count, ..g };
            let g_part = grad.narrow(0, n * pixels, count * pixels);
            if node_w.is_some() {
                let cols = im2col(&xv[n * image..(n + count) * image], part);
                let cols = tensor(cols, vec![part.rows(), 9 * g.c_in]);
                let product = Flex::float_matmul(cols.transpose(0, 1), g_part.clone());
                for (s, v) in gw.iter_mut().zip(values(&contiguous(product))) {
                    *s += v;
                }
            }
            if node_x.is_some() {
                let dcols = contiguous(Flex::float_matmul(g_part, weight_t.clone()));
                col2im(
                    values(&dcols),
                    part,
                    &mut gx[n * image..(n + count) * image],
                );
            }
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
    fn conv3x3_nhwc(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match Conv3x3Backward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let weight = contiguous(weight.into_primitive());
                let x = contiguous(x.into_primitive());
                let out = forward(x.clone(), weight.clone(), bias.primitive());
                prep.finish((x, weight), out)
            }
            OpsKind::UnTracked(prep) => {
                let out = forward(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.primitive(),
                );
                prep.finish(out)
            }
        }
    }

    fn relu_pool2x2_nhwc(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match ReluPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, which, shape) = relu_pool_forward(x.into_primitive(), true);
                prep.finish((which, shape), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(relu_pool_forward(x.into_primitive(), false).0),
        }
    }
}

/// The pooling's forward pass: the pooled values and, when `track`, for
/// each which of its window's four values it took (0–3 in row-major order,
/// as `f32` so that the selection vectorises like the maximum;
/// [`NONE`] when no value was positive, so the output is the ReLU's zero and
/// passes no gradient). Ties go to the first maximum in row-major order, as
/// burn's `max_pool2d` does. A window past an odd last row or column has
/// fewer values. The inner loops run over a pixel's channels, branch-free.
fn relu_pool_forward(x: FlexTensor, track: bool) -> (FlexTensor, Vec<f32>, [usize; 4]) {
    let x = contiguous(x);
    let s = x.layout().shape();
    let [b, h, w, c] = [s[0], s[1], s[2], s[3]];
    let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
    let v = values(&x);
    let mut out = vec![0.0f32; b * h2 * w2 * c];
    let mut which = if track {
        vec![NONE; b * h2 * w2 * c]
    } else {
        Vec::new()
    };
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
                        if track {
                            take_larger(o, &mut which[k..k + c], input, q as f32);
                        } else {
                            for (o, &x) in o.iter_mut().zip(input) {
                                *o = if x > *o { x } else { *o };
                            }
                        }
                    }
                    k += c;
                }
            }
        }
    });
    (tensor(out, vec![b, h2, w2, c]), which, [b, h, w, c])
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

/// The pooling's backward step: each output's gradient goes to the input
/// value it took.
#[derive(Debug)]
struct ReluPoolBackward;

impl Backward<Flex, 1> for ReluPoolBackward {
    type State = (Vec<f32>, [usize; 4]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let Some(node) = node_x else { return };
        let (which, [b, h, w, c]) = ops.state;
        let (h2, w2) = (h.div_ceil(2), w.div_ceil(2));
        let grad = contiguous(grad);
        let g = values(&grad);
        let mut gx = vec![0.0f32; b * h * w * c];
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
        grads.register::<Flex>(node.id, tensor(gx, vec![b, h, w, c]));
    }
}
