//! How hard is `synthetic-digits`? Trains small reference models on it and
//! reports their test accuracy, plus the generator's speed.
//!
//! For each seed (default 0 and 1; pass others as arguments) it generates
//! 3000 train / 1000 test samples from `stream(seed, 0, "data")` (the stream
//! the runner generates a scenario's data from) and reports:
//! - nearest-class-mean accuracy (a floor: how far apart the classes' averages are),
//! - softmax regression (784-10, Adam lr 1e-3, batch 64) after 5 and after 50
//!   epochs (50 is about converged: train accuracy near 0.99),
//! - an MLP 784-128-64-10 with ReLU (Adam lr 1e-3, batch 64) after 5 and 20 epochs,
//!
//! and then times generating 60 000 samples. The generator is tuned so the MLP
//! lands around 0.95–0.98 and softmax regression clearly lower, like MNIST at
//! this size. Run with
//! `cargo run --release -p poisonlab-data --example tune [SEED...]`.

use std::time::Instant;

use poisonlab_core::{Dataset, Rng, stream};
use poisonlab_data::SyntheticDigitsParams;
use rand::{RngCore, SeedableRng};

const BATCH: usize = 64;
const LR: f32 = 1e-3;

fn main() {
    let seeds: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| match a.parse() {
            Ok(s) => Some(s),
            Err(_) => {
                eprintln!("ignoring {a:?}: not a seed");
                None
            }
        })
        .collect();
    let seeds = if seeds.is_empty() { vec![0, 1] } else { seeds };
    let params = SyntheticDigitsParams::default();

    for seed in seeds {
        let splits = params.generate(&mut stream(seed, 0, "data"));
        let (train, test) = (&splits.train, &splits.test);
        let ncm = nearest_mean(train, test);
        let mut rng = Rng::seed_from_u64(1000 + seed);

        let mut softmax = Net::new(&[784, 10], &mut rng);
        softmax.train(train, 5, &mut rng);
        let softmax5 = softmax.accuracy(test);
        softmax.train(train, 45, &mut rng);
        let softmax50 = softmax.accuracy(test);
        let softmax50_train = softmax.accuracy(train);

        let mut mlp = Net::new(&[784, 128, 64, 10], &mut rng);
        mlp.train(train, 5, &mut rng);
        let mlp5 = mlp.accuracy(test);
        let mlp5_train = mlp.accuracy(train);
        mlp.train(train, 15, &mut rng);
        let mlp20 = mlp.accuracy(test);

        println!("seed {seed}:");
        println!("  nearest class mean          test {ncm:.3}");
        println!("  softmax regression  5 epochs test {softmax5:.3}");
        println!("  softmax regression 50 epochs test {softmax50:.3} (train {softmax50_train:.3})");
        println!("  MLP                 5 epochs test {mlp5:.3} (train {mlp5_train:.3})");
        println!("  MLP                20 epochs test {mlp20:.3}");
    }

    let big = SyntheticDigitsParams {
        train: 60_000,
        test: 1,
    };
    let start = Instant::now();
    let splits = big.generate(&mut Rng::seed_from_u64(0));
    let took = start.elapsed();
    let mean = splits
        .train
        .rows()
        .flatten()
        .map(|&v| f64::from(v))
        .sum::<f64>()
        / (splits.train.len() * splits.train.dim()) as f64;
    println!(
        "generated 60 000 samples in {:.2} s (mean pixel {mean:.3})",
        took.as_secs_f64()
    );
}

/// Accuracy of assigning each test sample the class whose training mean is nearest.
fn nearest_mean(train: &Dataset, test: &Dataset) -> f64 {
    let (d, k) = (train.dim(), train.n_classes());
    let mut means = vec![0.0f64; k * d];
    for i in 0..train.len() {
        let m = &mut means[train.labels()[i] * d..][..d];
        for (a, &v) in m.iter_mut().zip(train.sample(i)) {
            *a += f64::from(v);
        }
    }
    for (c, &n) in train.class_counts().iter().enumerate() {
        means[c * d..][..d].iter_mut().for_each(|a| *a /= n as f64);
    }
    let correct = (0..test.len())
        .filter(|&i| {
            let x = test.sample(i);
            let dist = |c: usize| -> f64 {
                means[c * d..][..d]
                    .iter()
                    .zip(x)
                    .map(|(m, &v)| (m - f64::from(v)).powi(2))
                    .sum()
            };
            (0..k).min_by(|&a, &b| dist(a).total_cmp(&dist(b))) == Some(test.labels()[i])
        })
        .count();
    correct as f64 / test.len() as f64
}

/// A fully connected layer `y = x W + b` with its Adam state.
struct Dense {
    inputs: usize,
    outputs: usize,
    /// `inputs × outputs`, row-major.
    w: Vec<f32>,
    b: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
    adam: [Vec<f32>; 4],
}

impl Dense {
    /// Weights and biases uniform in ±1/√inputs (PyTorch's default for `Linear`).
    fn new(inputs: usize, outputs: usize, rng: &mut Rng) -> Self {
        let bound = 1.0 / (inputs as f32).sqrt();
        let mut draw = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                    (2.0 * u - 1.0) * bound
                })
                .collect()
        };
        let w = draw(inputs * outputs);
        let b = draw(outputs);
        Self {
            inputs,
            outputs,
            gw: vec![0.0; w.len()],
            gb: vec![0.0; b.len()],
            adam: [
                vec![0.0; w.len()],
                vec![0.0; w.len()],
                vec![0.0; b.len()],
                vec![0.0; b.len()],
            ],
            w,
            b,
        }
    }

    /// `x`: `rows × inputs` -> `rows × outputs`.
    fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut y = Vec::with_capacity(rows * self.outputs);
        for r in 0..rows {
            y.extend_from_slice(&self.b);
            let out = &mut y[r * self.outputs..];
            for (i, &xi) in x[r * self.inputs..][..self.inputs].iter().enumerate() {
                if xi != 0.0 {
                    let wi = &self.w[i * self.outputs..][..self.outputs];
                    for (o, &wio) in out.iter_mut().zip(wi) {
                        *o += xi * wio;
                    }
                }
            }
        }
        y
    }

    /// Accumulate gradients for input `x` and output gradient `dy`; return `dx`.
    fn backward(&mut self, x: &[f32], dy: &[f32], rows: usize) -> Vec<f32> {
        let mut dx = vec![0.0; rows * self.inputs];
        for r in 0..rows {
            let dyr = &dy[r * self.outputs..][..self.outputs];
            for (g, &d) in self.gb.iter_mut().zip(dyr) {
                *g += d;
            }
            let xr = &x[r * self.inputs..][..self.inputs];
            let dxr = &mut dx[r * self.inputs..][..self.inputs];
            for i in 0..self.inputs {
                let wi = &self.w[i * self.outputs..][..self.outputs];
                dxr[i] = wi.iter().zip(dyr).map(|(w, d)| w * d).sum();
                if xr[i] != 0.0 {
                    let gi = &mut self.gw[i * self.outputs..][..self.outputs];
                    for (g, &d) in gi.iter_mut().zip(dyr) {
                        *g += xr[i] * d;
                    }
                }
            }
        }
        dx
    }

    /// One Adam step (β1 0.9, β2 0.999, ε 1e-8) on the accumulated gradients, then clear them.
    fn step(&mut self, t: i32) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        let [mw, vw, mb, vb] = &mut self.adam;
        for (p, g, m, v) in [
            (&mut self.w, &mut self.gw, mw, vw),
            (&mut self.b, &mut self.gb, mb, vb),
        ] {
            for k in 0..p.len() {
                m[k] = b1 * m[k] + (1.0 - b1) * g[k];
                v[k] = b2 * v[k] + (1.0 - b2) * g[k] * g[k];
                p[k] -= LR * (m[k] / c1) / ((v[k] / c2).sqrt() + eps);
                g[k] = 0.0;
            }
        }
    }
}

/// Dense layers with ReLU between them and softmax cross-entropy on top.
struct Net {
    layers: Vec<Dense>,
    t: i32,
}

impl Net {
    fn new(sizes: &[usize], rng: &mut Rng) -> Self {
        let layers = sizes
            .windows(2)
            .map(|w| Dense::new(w[0], w[1], rng))
            .collect();
        Self { layers, t: 0 }
    }

    /// Activations of every layer, input first; the last are the logits.
    fn forward(&self, x: &[f32], rows: usize) -> Vec<Vec<f32>> {
        let mut acts = vec![x.to_vec()];
        for (k, layer) in self.layers.iter().enumerate() {
            let mut y = layer.forward(&acts[k], rows);
            if k + 1 < self.layers.len() {
                y.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            acts.push(y);
        }
        acts
    }

    fn train(&mut self, data: &Dataset, epochs: usize, rng: &mut Rng) {
        let (d, classes) = (data.dim(), data.n_classes());
        let mut order: Vec<usize> = (0..data.len()).collect();
        for _ in 0..epochs {
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
            }
            for batch in order.chunks(BATCH) {
                let rows = batch.len();
                let mut x = Vec::with_capacity(rows * d);
                for &i in batch {
                    x.extend_from_slice(data.sample(i));
                }
                let acts = self.forward(&x, rows);
                // d(mean cross-entropy)/d(logits) = (softmax - onehot) / rows
                let mut grad = softmax(&acts[acts.len() - 1], classes);
                for (r, &i) in batch.iter().enumerate() {
                    grad[r * classes + data.labels()[i]] -= 1.0;
                }
                grad.iter_mut().for_each(|g| *g /= rows as f32);
                for k in (0..self.layers.len()).rev() {
                    let dx = self.layers[k].backward(&acts[k], &grad, rows);
                    if k > 0 {
                        // Through the ReLU that produced acts[k].
                        grad = dx
                            .into_iter()
                            .zip(&acts[k])
                            .map(|(g, &a)| if a > 0.0 { g } else { 0.0 })
                            .collect();
                    }
                }
                self.t += 1;
                for layer in &mut self.layers {
                    layer.step(self.t);
                }
            }
        }
    }

    fn accuracy(&self, data: &Dataset) -> f64 {
        let classes = data.n_classes();
        let logits = self
            .forward(&data.to_features(), data.len())
            .pop()
            .unwrap_or_default();
        let correct = logits
            .chunks(classes)
            .zip(data.labels())
            .filter(|(row, label)| {
                let best = (0..classes).max_by(|&a, &b| row[a].total_cmp(&row[b]));
                best == Some(**label)
            })
            .count();
        correct as f64 / data.len() as f64
    }
}

/// Row-wise softmax of `rows × classes` logits.
fn softmax(logits: &[f32], classes: usize) -> Vec<f32> {
    let mut p = logits.to_vec();
    for row in p.chunks_mut(classes) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        row.iter_mut().for_each(|v| *v /= sum);
    }
    p
}
