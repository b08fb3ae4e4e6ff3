//! Small, fast checks of the models and the Classifier contract.

use poisonlab_core::seed::stream;
use poisonlab_core::{Classifier, Dataset, Model, ModelTrainer, ParameterError, Rng, metrics};
use rand::Rng as _;

use crate::{BurnTrainer, ModelError, ModelKind, ModelParams, TrainedModel};

/// Two Gaussian classes in `shape`, class 1 shifted by +1 in the first half of the features.
fn two_classes(n: usize, shape: &[usize], rng: &mut Rng) -> Dataset {
    let dim: usize = shape.iter().product();
    let mut x = Vec::with_capacity(n * dim);
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    for &y in &labels {
        for j in 0..dim {
            let shift = if y == 1 && j < dim / 2 { 1.0 } else { 0.0 };
            x.push(shift + rng.random_range(-0.5f32..0.5));
        }
    }
    Dataset::new(x, shape.to_vec(), labels, 2, None).unwrap()
}

fn params(kind: ModelKind, epochs: usize) -> ModelParams {
    ModelParams {
        kind,
        epochs,
        batch_size: 16,
        learning_rate: 0.01,
        ..ModelParams::default()
    }
}

#[test]
fn each_kind_learns_a_separable_problem() {
    for (kind, shape) in [
        (ModelKind::Logreg, vec![8]),
        (ModelKind::Mlp, vec![8]),
        (ModelKind::Cnn, vec![1, 12, 12]),
    ] {
        let train = two_classes(200, &shape, &mut stream(1, 0, "train"));
        let test = two_classes(100, &shape, &mut stream(1, 0, "test"));
        let model = BurnTrainer::new(params(kind, 3))
            .fit(&train, &mut stream(1, 0, "m"))
            .unwrap();
        let acc = metrics::agreement(&model.predict(&test), test.labels()).unwrap();
        assert!(acc > 0.9, "{kind:?} accuracy {acc}");
        let p = model.predict_proba(&test);
        assert_eq!((p.rows, p.cols), (100, 2));
        for i in 0..p.rows {
            assert!((p.row(i).iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
    }
}

#[test]
fn same_stream_same_model() {
    let train = two_classes(100, &[6], &mut stream(2, 0, "train"));
    let trainer = BurnTrainer::new(params(ModelKind::Mlp, 2));
    let a = trainer.fit(&train, &mut stream(2, 0, "m")).unwrap();
    let b = trainer.fit(&train, &mut stream(2, 0, "m")).unwrap();
    let c = trainer.fit(&train, &mut stream(2, 1, "m")).unwrap();
    assert_eq!(a.predict_proba(&train), b.predict_proba(&train));
    assert_ne!(a.predict_proba(&train), c.predict_proba(&train));
}

#[test]
fn embedding_is_the_penultimate_layer() {
    let train = two_classes(40, &[1, 12, 12], &mut stream(3, 0, "train"));
    let cnn = BurnTrainer::new(params(ModelKind::Cnn, 1))
        .fit(&train, &mut stream(3, 0, "m"))
        .unwrap();
    assert_eq!(cnn.embed(&train).cols, 128);
    let flat = two_classes(40, &[5], &mut stream(3, 0, "train"));
    let mlp = BurnTrainer::new(ModelParams {
        hidden: vec![7, 3],
        ..params(ModelKind::Mlp, 1)
    })
    .fit(&flat, &mut stream(3, 0, "m"))
    .unwrap();
    assert_eq!(mlp.embed(&flat).cols, 3);
    let logreg = BurnTrainer::new(params(ModelKind::Logreg, 1))
        .fit(&flat, &mut stream(3, 0, "m"))
        .unwrap();
    assert_eq!(
        logreg.embed(&flat),
        poisonlab_core::Matrix::new(40, 5, flat.to_features())
    );
}

#[test]
fn losses_match_probabilities_and_input_gradient_matches_finite_differences() {
    let train = two_classes(60, &[4], &mut stream(4, 0, "train"));
    let model = BurnTrainer::new(params(ModelKind::Mlp, 2))
        .fit(&train, &mut stream(4, 0, "m"))
        .unwrap();
    let losses = model.losses(&train);
    let p = model.predict_proba(&train);
    for (i, &y) in train.labels().iter().enumerate() {
        assert!((losses[i] + p.row(i)[y].ln()).abs() < 1e-4);
    }
    let grad = model.input_gradient(&train);
    assert_eq!((grad.rows, grad.cols), (60, 4));
    assert_matches_finite_differences(&train.subset(&[5]), grad.row(5), |d| model.losses(d)[0]);
}

/// Central differences (step 0.01) of `objective` at the one sample of `one`
/// agree with `grad` feature by feature.
fn assert_matches_finite_differences(
    one: &Dataset,
    grad: &[f32],
    objective: impl Fn(&Dataset) -> f32,
) {
    let h = 1e-2f32;
    for (j, &g) in grad.iter().enumerate() {
        let mut plus = one.clone();
        plus.sample_mut(0)[j] += h;
        let mut minus = one.clone();
        minus.sample_mut(0)[j] -= h;
        let fd = (objective(&plus) - objective(&minus)) / (2.0 * h);
        assert!(
            (fd - g).abs() < 2e-3 + 0.05 * g.abs(),
            "feature {j}: fd {fd} vs grad {g}"
        );
    }
}

#[test]
fn cnn_rejects_tabular_and_tiny_images() {
    let flat = two_classes(10, &[8], &mut stream(5, 0, "x"));
    let err = BurnTrainer::new(params(ModelKind::Cnn, 1)).fit(&flat, &mut stream(5, 0, "m"));
    assert!(matches!(err, Err(ModelError::CnnNeedsImages(_))));
    let tiny = two_classes(10, &[1, 3, 3], &mut stream(5, 0, "x"));
    let err = BurnTrainer::new(params(ModelKind::Cnn, 1)).fit(&tiny, &mut stream(5, 0, "m"));
    assert!(matches!(err, Err(ModelError::ImageTooSmall { .. })));
}

#[test]
fn feature_gradient_matches_finite_differences() {
    let train = two_classes(40, &[4], &mut stream(6, 0, "train"));
    let model = BurnTrainer::new(params(ModelKind::Mlp, 2))
        .fit(&train, &mut stream(6, 0, "m"))
        .unwrap();
    let one = train.subset(&[3]);
    let target = model.embed(&train.subset(&[8]));
    let objective = |d: &Dataset| -> f32 {
        let e = model.embed(d);
        e.data
            .iter()
            .zip(&target.data)
            .map(|(a, b)| 0.5 * (a - b) * (a - b))
            .sum()
    };
    let grad = model.feature_gradient(&one, &target);
    assert_eq!((grad.rows, grad.cols), (1, 4));
    assert_matches_finite_differences(&one, grad.row(0), objective);
}

#[test]
fn resume_continues_from_the_trained_weights() {
    let train = two_classes(80, &[6], &mut stream(7, 0, "train"));
    let one = BurnTrainer::new(params(ModelKind::Mlp, 1));
    let two = BurnTrainer::new(params(ModelKind::Mlp, 2));
    // One epoch, then one more from where it stopped, is not a fresh start:
    let first = one.fit(&train, &mut stream(7, 0, "m")).unwrap();
    let before = first.predict_proba(&train);
    let resumed = one
        .resume(first, &train, &mut stream(7, 0, "more"))
        .unwrap();
    assert_ne!(resumed.predict_proba(&train), before);
    let fresh = one.fit(&train, &mut stream(7, 0, "more")).unwrap();
    assert_ne!(resumed.predict_proba(&train), fresh.predict_proba(&train));
    // and it keeps learning: the loss after two passes is below the loss after one.
    let loss = |m: &crate::TrainedModel| m.losses(&train).iter().sum::<f32>();
    let twice = two.fit(&train, &mut stream(7, 0, "m")).unwrap();
    assert!(loss(&resumed) < loss(&one.fit(&train, &mut stream(7, 0, "m")).unwrap()));
    assert!(loss(&twice).is_finite());
}

#[test]
fn training_on_rows_in_place_equals_training_on_their_copy() {
    let data = two_classes(120, &[8], &mut stream(3, 0, "train"));
    let rows: Vec<usize> = (0..120).filter(|i| i % 3 != 0).collect();
    let trainer = BurnTrainer::new(params(ModelKind::Mlp, 2));
    let in_place = trainer
        .fit_subset(&data, &rows, &mut stream(3, 0, "model"))
        .unwrap();
    let copied = trainer
        .fit(&data.subset(&rows), &mut stream(3, 0, "model"))
        .unwrap();
    assert_eq!(
        in_place.predict_proba(&data).data,
        copied.predict_proba(&data).data
    );
    assert!(matches!(
        trainer.fit_subset(&data, &[], &mut stream(3, 0, "model")),
        Err(ModelError::EmptyData)
    ));
}

#[test]
fn the_inference_batch_is_a_speed_setting() {
    let data = two_classes(100, &[8], &mut stream(4, 0, "train"));
    let model = BurnTrainer::new(params(ModelKind::Mlp, 1))
        .fit(&data, &mut stream(4, 0, "model"))
        .unwrap();
    let wide = model.predict_proba(&data);
    let narrow = model.clone().with_eval_batch(7).predict_proba(&data);
    assert_eq!((wide.rows, wide.cols), (narrow.rows, narrow.cols));
    for (a, b) in wide.data.iter().zip(&narrow.data) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

// ---- Parameters as flat vectors, training from given weights ----

/// The three families on tiny data: (trainer settings, sample shape).
fn families(epochs: usize) -> Vec<(ModelParams, Vec<usize>)> {
    vec![
        (params(ModelKind::Logreg, epochs), vec![6]),
        (
            ModelParams {
                hidden: vec![8, 4],
                ..params(ModelKind::Mlp, epochs)
            },
            vec![6],
        ),
        (params(ModelKind::Cnn, epochs), vec![1, 8, 8]),
    ]
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Probabilities, embeddings and input gradients of `a` and `b` agree bit for bit.
fn assert_same_model(a: &dyn Classifier, b: &dyn Classifier, data: &Dataset, what: &str) {
    assert_eq!(
        bits(&a.predict_proba(data).data),
        bits(&b.predict_proba(data).data),
        "{what}: probabilities"
    );
    assert_eq!(
        bits(&a.embed(data).data),
        bits(&b.embed(data).data),
        "{what}: embeddings"
    );
    assert_eq!(
        bits(&a.input_gradient(data).data),
        bits(&b.input_gradient(data).data),
        "{what}: input gradients"
    );
}

#[test]
fn parameters_set_back_on_another_model_predict_identically() {
    for (p, shape) in families(1) {
        let data = two_classes(24, &shape, &mut stream(20, 0, "train"));
        let trainer = BurnTrainer::new(p);
        let trained = trainer.fit(&data, &mut stream(20, 0, "m")).unwrap();
        let values = trained.parameters();
        assert_eq!(values.len(), trained.n_parameters());
        // Any model for the same data takes them: here a fresh, untrained one.
        let mut other = trainer.initial(&data, &mut stream(20, 1, "m")).unwrap();
        assert_ne!(bits(&other.parameters()), bits(&values));
        other.set_parameters(&values).unwrap();
        assert_eq!(bits(&other.parameters()), bits(&values));
        assert_same_model(
            &trained,
            other.as_ref(),
            &data,
            &format!("{:?}", trainer.params().kind),
        );
        // and a copy behind the trait is the same model too.
        let copy = other.clone();
        assert_same_model(&trained, copy.as_ref(), &data, "clone_box");
    }
}

#[test]
fn zero_epochs_return_the_starting_weights_and_draw_nothing() {
    for (p, shape) in families(1) {
        let data = two_classes(24, &shape, &mut stream(21, 0, "train"));
        let trainer = BurnTrainer::new(p);
        let start = trainer.fit(&data, &mut stream(21, 0, "m")).unwrap();
        let mut rng = stream(21, 0, "more");
        let before = rng.clone();
        let same = trainer
            .fit_from(Some(&start.parameters()), &data, None, 0, &mut rng)
            .unwrap();
        assert_eq!(rng, before, "zero epochs from given weights draw nothing");
        assert_eq!(bits(&same.parameters()), bits(&start.parameters()));
        assert_same_model(&start, same.as_ref(), &data, "zero epochs");
    }
}

/// Fresh weights are U(−1/√fan_in, 1/√fan_in) draws from the stream, tensor
/// by tensor in parameter order (the documented layout), and nothing else is drawn.
#[test]
fn fresh_weights_are_drawn_in_parameter_order() {
    for (p, shape) in families(1) {
        let data = two_classes(8, &shape, &mut stream(22, 0, "train"));
        // (values, fan-in) of each tensor, in parameter order.
        let tensors: Vec<(usize, usize)> = match p.kind {
            ModelKind::Logreg => vec![(6 * 2, 6), (2, 6)],
            ModelKind::Mlp => vec![(6 * 8, 6), (8, 6), (8 * 4, 8), (4, 8), (4 * 2, 4), (2, 4)],
            // 8×8 → conv 6×6 → pool 3×3 → conv 1×1 → pool 1×1: 32 features.
            ModelKind::Cnn => vec![
                (16 * 9, 9),
                (16, 9),
                (32 * 16 * 9, 16 * 9),
                (32, 16 * 9),
                (32 * 128, 32),
                (128, 32),
                (128 * 2, 128),
                (2, 128),
            ],
        };
        let mut by_hand = stream(22, 0, "m");
        let expected: Vec<f32> = tensors
            .iter()
            .flat_map(|&(n, fan_in)| {
                let bound = 1.0 / (fan_in as f32).sqrt();
                (0..n)
                    .map(|_| by_hand.random_range(-bound..bound))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut rng = stream(22, 0, "m");
        let model = BurnTrainer::new(p).initial(&data, &mut rng).unwrap();
        assert_eq!(bits(&model.parameters()), bits(&expected));
        assert_eq!(rng, by_hand);
    }
}

/// The documented layout, checked against the network's own outputs: dense
/// weights `[in, out]` row-major computing `x W + b`, conv weights
/// `[out, in, 3, 3]` row-major (a cross-correlation), the first dense layer
/// of the CNN reading the last feature map `[channels, h, w]` row-major.
#[test]
fn the_parameter_vector_has_the_documented_layout() {
    // Dense families: the logits by hand, through softmax.
    for (p, shape) in families(1).into_iter().take(2) {
        let data = two_classes(10, &shape, &mut stream(23, 0, "train"));
        let mut widths = vec![6];
        if p.kind == ModelKind::Mlp {
            widths.extend(&p.hidden);
        }
        widths.push(2);
        let model = BurnTrainer::new(p)
            .initial(&data, &mut stream(23, 0, "m"))
            .unwrap();
        let values = model.parameters();
        let probs = model.predict_proba(&data);
        for i in 0..data.len() {
            let logits = dense_by_hand(&values, &widths, data.sample(i).to_vec());
            let max = logits.iter().copied().fold(f32::MIN, f32::max);
            let z: f32 = logits.iter().map(|l| (l - max).exp()).sum();
            for (o, l) in logits.iter().enumerate() {
                let want = (l - max).exp() / z;
                assert!(
                    (probs.row(i)[o] - want).abs() < 1e-5,
                    "{want} vs {:?}",
                    probs.row(i)
                );
            }
        }
    }
    // The CNN: the embedding by hand, on a non-square image with a 2×3 last map.
    let (c, h, w) = (2, 12, 16);
    let data = two_classes(3, &[c, h, w], &mut stream(23, 0, "img"));
    let model = BurnTrainer::new(params(ModelKind::Cnn, 1))
        .initial(&data, &mut stream(23, 0, "m"))
        .unwrap();
    let values = model.parameters();
    let embed = model.embed(&data);
    for i in 0..data.len() {
        let mut rest = &values[..];
        let mut map = (c, h, w, data.sample(i).to_vec());
        for c_out in [16, 32] {
            map = pool_by_hand(conv_by_hand(&mut rest, c_out, map));
        }
        let (c2, h2, w2, flat) = map;
        assert_eq!((c2, h2, w2), (32, 2, 3));
        // The first dense layer, then ReLU: the embedding.
        let hidden = dense_layer(&mut rest, 32 * 2 * 3, 128, &flat);
        let hidden: Vec<f32> = hidden.into_iter().map(|v| v.max(0.0)).collect();
        for (j, (&got, want)) in embed.row(i).iter().zip(hidden).enumerate() {
            assert!((got - want).abs() < 1e-4, "unit {j}: {got} vs {want}");
        }
        assert_eq!(rest.len(), 128 * 2 + 2, "only the last dense layer is left");
    }
}

/// `x W + b` for the dense layer whose parameters start `rest`, which then skips them.
fn dense_layer(rest: &mut &[f32], d_in: usize, d_out: usize, x: &[f32]) -> Vec<f32> {
    let (w, tail) = rest.split_at(d_in * d_out);
    let (b, tail) = tail.split_at(d_out);
    *rest = tail;
    (0..d_out)
        .map(|o| b[o] + (0..d_in).map(|i| x[i] * w[i * d_out + o]).sum::<f32>())
        .collect()
}

/// Dense layers of `widths` with ReLU between them: the logits.
fn dense_by_hand(values: &[f32], widths: &[usize], mut x: Vec<f32>) -> Vec<f32> {
    let mut rest = values;
    for (l, io) in widths.windows(2).enumerate() {
        x = dense_layer(&mut rest, io[0], io[1], &x);
        if l + 2 < widths.len() {
            x.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    }
    assert!(rest.is_empty());
    x
}

/// A valid 3×3 convolution `[c, h, w] → [c_out, h-2, w-2]` with the weights
/// `[c_out, c, 3, 3]` and bias `[c_out]` that start `rest`, then ReLU.
fn conv_by_hand(
    rest: &mut &[f32],
    c_out: usize,
    (c, h, w, x): (usize, usize, usize, Vec<f32>),
) -> (usize, usize, usize, Vec<f32>) {
    let (weight, tail) = rest.split_at(c_out * c * 9);
    let (bias, tail) = tail.split_at(c_out);
    *rest = tail;
    let (ho, wo) = (h - 2, w - 2);
    let mut out = vec![0.0f32; c_out * ho * wo];
    for o in 0..c_out {
        for y in 0..ho {
            for z in 0..wo {
                let mut s = bias[o];
                for ci in 0..c {
                    for r in 0..3 {
                        for q in 0..3 {
                            s += weight[((o * c + ci) * 3 + r) * 3 + q]
                                * x[(ci * h + y + r) * w + z + q];
                        }
                    }
                }
                out[(o * ho + y) * wo + z] = s.max(0.0);
            }
        }
    }
    (c_out, ho, wo, out)
}

/// 2×2 max-pool with stride 2, rounding up.
fn pool_by_hand((c, h, w, x): (usize, usize, usize, Vec<f32>)) -> (usize, usize, usize, Vec<f32>) {
    let (ho, wo) = (h.div_ceil(2), w.div_ceil(2));
    let mut out = vec![f32::MIN; c * ho * wo];
    for ci in 0..c {
        for y in 0..h {
            for z in 0..w {
                let cell = &mut out[(ci * ho + y / 2) * wo + z / 2];
                *cell = cell.max(x[(ci * h + y) * w + z]);
            }
        }
    }
    (c, ho, wo, out)
}

#[test]
fn the_average_of_two_identical_parameter_vectors_is_the_same_model() {
    for (p, shape) in families(1) {
        let data = two_classes(24, &shape, &mut stream(24, 0, "train"));
        let trainer = BurnTrainer::new(p);
        let model = trainer.fit(&data, &mut stream(24, 0, "m")).unwrap();
        let (a, b) = (model.parameters(), model.parameters());
        let average: Vec<f32> = a.iter().zip(&b).map(|(x, y)| (x + y) / 2.0).collect();
        let mut averaged: Box<dyn Model> = trainer.initial(&data, &mut stream(24, 1, "m")).unwrap();
        averaged.set_parameters(&average).unwrap();
        assert_eq!(averaged.predict(&data), model.predict(&data));
        assert_same_model(&model, averaged.as_ref(), &data, "average");
    }
}

/// Two calls against one, when the batch streams match: the one stream is
/// passed through every call, so it yields the initial weights and then the
/// same shuffle for every epoch k as the one call does, whichever call runs
/// epoch k. With the Adam state carried from call to call (moments and step
/// count), the calls are the one call, bit for bit, wherever they split:
/// E + E, 0 + 2E, and E + 0 + E.
#[test]
fn two_calls_carrying_the_adam_state_equal_one_call_bit_for_bit() {
    let e = 1;
    for (p, shape) in families(1) {
        let data = two_classes(40, &shape, &mut stream(25, 0, "train"));
        let rows: Vec<usize> = (0..40).filter(|i| i % 4 != 3).collect();
        let trainer = BurnTrainer::new(p);
        let kind = format!("{:?}", trainer.params().kind);
        let mut one_rng = stream(25, 0, "m");
        let one = trainer
            .fit_from(None, &data, Some(&rows), 2 * e, &mut one_rng)
            .unwrap();
        assert!(!one.has_training_state());
        for split in [vec![e, e], vec![0, 2 * e], vec![e, 0, e]] {
            let what = format!("{kind} {split:?}");
            let mut rng = stream(25, 0, "m");
            let mut model = trainer
                .fit_from_keeping_state(None, &data, Some(&rows), split[0], &mut rng)
                .unwrap();
            for &epochs in &split[1..] {
                assert!(model.has_training_state(), "{what}");
                model = trainer
                    .fit_more(model, &data, Some(&rows), epochs, &mut rng)
                    .unwrap();
            }
            assert_eq!(rng, one_rng, "{what}: the same draws");
            assert_eq!(bits(&model.parameters()), bits(&one.parameters()), "{what}");
            assert_same_model(one.as_ref(), model.as_ref(), &data, &what);
        }
        // The concrete calls are the same: E + E with `continue_training`.
        let mut rng = stream(25, 0, "m");
        let first = trainer
            .train_from_keeping_state(None, &data, Some(&rows), e, &mut rng)
            .unwrap();
        let batches = rows.len().div_ceil(trainer.params().batch_size);
        assert_eq!(first.adam_steps(), Some(e * batches));
        let second = trainer
            .continue_training(first, &data, Some(&rows), e, &mut rng)
            .unwrap();
        assert_eq!(second.adam_steps(), Some(2 * e * batches));
        assert_eq!(rng, one_rng);
        assert_same_model(one.as_ref(), &second, &data, &format!("{kind} concrete"));
    }
}

/// A continuation with a fresh Adam state (`resume`, or `fit_from` with the
/// weights so far) is the warm start of round-based training: from the same
/// weights and with the same draws as the one call, it differs from the one
/// call, because it restarts Adam's moment estimates and bias correction (and
/// the batch order from the rows as given). It is a carried-state
/// continuation from a fresh state.
#[test]
fn a_fresh_optimiser_continuation_differs_from_one_call() {
    let e = 1;
    for (p, shape) in families(1) {
        let data = two_classes(40, &shape, &mut stream(28, 0, "train"));
        let trainer = BurnTrainer::new(p);
        let kind = format!("{:?}", trainer.params().kind);
        let mut one_rng = stream(28, 0, "m");
        let one = trainer
            .train_from(None, &data, None, 2 * e, &mut one_rng)
            .unwrap();
        // E + E, restarting Adam: the same draws, another model.
        let mut rng = stream(28, 0, "m");
        let first = trainer.train_from(None, &data, None, e, &mut rng).unwrap();
        let mut resume_rng = rng.clone();
        let restarted = trainer
            .fit_from(Some(&first.parameters()), &data, None, e, &mut rng)
            .unwrap();
        assert_eq!(rng, one_rng, "{kind}: the same draws");
        assert_ne!(
            bits(&restarted.parameters()),
            bits(&one.parameters()),
            "{kind}"
        );
        // `resume` is that restart (with the trainer's epochs, here E),
        let resumed = trainer
            .resume(first.clone(), &data, &mut resume_rng)
            .unwrap();
        assert_eq!(resume_rng, one_rng);
        assert_same_model(
            restarted.as_ref(),
            &resumed,
            &data,
            &format!("{kind} resume"),
        );
        // and so is continuing from a fresh state kept at zero epochs.
        let mut rng = stream(28, 0, "m");
        let _ = trainer.train_from(None, &data, None, e, &mut rng).unwrap();
        let fresh = trainer
            .train_from_keeping_state(Some(&first.parameters()), &data, None, 0, &mut rng)
            .unwrap();
        assert_eq!(fresh.adam_steps(), Some(0));
        let continued = trainer
            .continue_training(fresh, &data, None, e, &mut rng)
            .unwrap();
        assert_same_model(
            restarted.as_ref(),
            &continued,
            &data,
            &format!("{kind} fresh state"),
        );
    }
}

/// Models keep an Adam state only from the state-keeping calls; setting
/// parameters or discarding drops it; copies keep it and continue alike;
/// continuing needs it, the trainer's architecture for the data, and rows.
#[test]
fn the_adam_state_is_kept_only_when_asked_and_checked_when_continued() {
    let data = two_classes(30, &[6], &mut stream(29, 0, "train"));
    let p = ModelParams {
        hidden: vec![8, 4],
        ..params(ModelKind::Mlp, 1)
    };
    let trainer = BurnTrainer::new(p.clone());
    let rng = || stream(29, 0, "m");
    // Without the state: every other call.
    let fit = trainer.fit(&data, &mut rng()).unwrap();
    assert_eq!(fit.adam_steps(), None);
    assert!(!fit.has_training_state());
    assert!(
        !trainer
            .fit_subset(&data, &[1, 2, 3], &mut rng())
            .unwrap()
            .has_training_state()
    );
    assert!(
        !trainer
            .resume(fit.clone(), &data, &mut rng())
            .unwrap()
            .has_training_state()
    );
    assert!(
        !trainer
            .initial(&data, &mut rng())
            .unwrap()
            .has_training_state()
    );
    assert!(
        !trainer
            .fit_from(None, &data, None, 1, &mut rng())
            .unwrap()
            .has_training_state()
    );
    assert!(matches!(
        trainer.continue_training(fit.clone(), &data, None, 1, &mut rng()),
        Err(ModelError::NoTrainingState)
    ));
    assert!(matches!(
        trainer.fit_more(Box::new(fit.clone()), &data, None, 1, &mut rng()),
        Err(ModelError::NoTrainingState)
    ));
    // With it: the same model, plus the state.
    let kept = trainer
        .train_from_keeping_state(None, &data, None, 1, &mut rng())
        .unwrap();
    assert_eq!(kept.adam_steps(), Some(2), "30 rows in batches of 16");
    assert_same_model(&fit, &kept, &data, "kept");
    // Zero more epochs: the model as it was, nothing drawn.
    let mut more = stream(29, 0, "more");
    let before = more.clone();
    let same = trainer
        .continue_training(kept.clone(), &data, None, 0, &mut more)
        .unwrap();
    assert_eq!(more, before);
    assert_eq!(same.adam_steps(), Some(2));
    assert_same_model(&kept, &same, &data, "zero epochs");
    // Copies keep the state and continue alike (behind the trait too).
    let copy: Box<dyn Model> = kept.clone_box();
    assert!(copy.has_training_state());
    let a = trainer
        .continue_training(kept.clone(), &data, None, 1, &mut stream(29, 0, "more"))
        .unwrap();
    let b = trainer
        .fit_more(copy, &data, None, 1, &mut stream(29, 0, "more"))
        .unwrap();
    assert_same_model(&a, b.as_ref(), &data, "copy");
    // Setting parameters (even the same ones) or discarding drops it.
    let mut set = kept.clone();
    set.set_parameters(&kept.parameters()).unwrap();
    assert!(!set.has_training_state());
    let mut discarded: Box<dyn Model> = Box::new(kept.clone());
    discarded.discard_training_state();
    assert!(!discarded.has_training_state());
    assert_eq!(kept.clone().without_training_state().adam_steps(), None);
    // Continuing checks the rows and the architecture.
    assert!(matches!(
        trainer.continue_training(kept.clone(), &data, Some(&[]), 1, &mut rng()),
        Err(ModelError::EmptyData)
    ));
    let wider = BurnTrainer::new(ModelParams {
        hidden: vec![8, 5],
        ..p.clone()
    });
    assert!(matches!(
        wider.continue_training(kept.clone(), &data, None, 1, &mut rng()),
        Err(ModelError::ArchitectureMismatch)
    ));
    let logreg = BurnTrainer::new(params(ModelKind::Logreg, 1));
    assert!(matches!(
        logreg.continue_training(kept.clone(), &data, None, 1, &mut rng()),
        Err(ModelError::ArchitectureMismatch)
    ));
    let other_shape = two_classes(30, &[7], &mut stream(29, 0, "train"));
    assert!(matches!(
        trainer.continue_training(kept.clone(), &other_shape, None, 1, &mut rng()),
        Err(ModelError::ArchitectureMismatch)
    ));
    // Another learning rate is allowed: a continuation under new settings.
    let slower = BurnTrainer::new(ModelParams {
        learning_rate: 0.001,
        ..p
    });
    let c = slower
        .continue_training(kept, &data, None, 1, &mut stream(29, 0, "more"))
        .unwrap();
    assert_eq!(c.adam_steps(), Some(4));
    assert_ne!(bits(&c.parameters()), bits(&a.parameters()));
    // So are other rows; with another number of rows the batch order starts
    // again from the rows as given.
    let d = trainer
        .continue_training(c, &data, Some(&[4, 2, 0]), 2, &mut stream(29, 0, "more"))
        .unwrap();
    assert_eq!(d.adam_steps(), Some(6));
}

#[test]
fn wrong_parameter_vectors_are_refused_naming_both_lengths() {
    for (p, shape) in families(1) {
        let data = two_classes(8, &shape, &mut stream(26, 0, "train"));
        let trainer = BurnTrainer::new(p);
        let mut model = trainer.fit(&data, &mut stream(26, 0, "m")).unwrap();
        let values = model.parameters();
        let n = values.len();
        let err = model.set_parameters(&values[..n - 1]).unwrap_err();
        assert_eq!(
            err,
            ParameterError::WrongLength {
                expected: n,
                got: n - 1
            }
        );
        let message = err.to_string();
        assert!(
            message.contains(&n.to_string()) && message.contains(&(n - 1).to_string()),
            "{message}"
        );
        let mut bad = values.clone();
        bad[n / 2] = f32::NAN;
        assert!(matches!(
            model.set_parameters(&bad),
            Err(ParameterError::NonFinite { index, .. }) if index == n / 2
        ));
        assert_eq!(bits(&model.parameters()), bits(&values), "left as it was");
        let mut longer = values.clone();
        longer.push(0.0);
        assert!(matches!(
            trainer.fit_from(Some(&longer), &data, None, 1, &mut stream(26, 0, "x")),
            Err(ModelError::Parameters(ParameterError::WrongLength { expected, got }))
                if expected == n && got == n + 1
        ));
        assert!(matches!(
            trainer.fit_from(Some(&values), &data, Some(&[]), 0, &mut stream(26, 0, "x")),
            Err(ModelError::EmptyData)
        ));
    }
}

/// `fit`, `fit_subset` and `resume` are `fit_from` with the trainer's epochs:
/// fresh weights on all rows, fresh weights on the given rows, and the
/// model's own weights on all rows.
#[test]
fn fit_fit_subset_and_resume_are_fit_from() {
    for (p, shape) in families(1) {
        let data = two_classes(24, &shape, &mut stream(27, 0, "train"));
        let rows: Vec<usize> = (0..24).rev().filter(|i| i % 3 != 0).collect();
        let trainer = BurnTrainer::new(p);
        let epochs = trainer.params().epochs;
        let fit = trainer.fit(&data, &mut stream(27, 0, "m")).unwrap();
        let general = trainer
            .fit_from(None, &data, None, epochs, &mut stream(27, 0, "m"))
            .unwrap();
        assert_same_model(&fit, general.as_ref(), &data, "fit");
        let subset = trainer
            .fit_subset(&data, &rows, &mut stream(27, 0, "s"))
            .unwrap();
        let general = trainer
            .fit_from(None, &data, Some(&rows), epochs, &mut stream(27, 0, "s"))
            .unwrap();
        assert_same_model(&subset, general.as_ref(), &data, "fit_subset");
        let start = fit.parameters();
        let resumed: TrainedModel = trainer.resume(fit, &data, &mut stream(27, 0, "r")).unwrap();
        let general = trainer
            .fit_from(Some(&start), &data, None, epochs, &mut stream(27, 0, "r"))
            .unwrap();
        assert_same_model(&resumed, general.as_ref(), &data, "resume");
    }
}

#[test]
fn loss_gradient_of_softmax_regression_has_its_closed_form() {
    // Softmax regression: ∂/∂W of the mean cross-entropy is Xᵀ(P − Y) / n and
    // ∂/∂b is the mean of P − Y (P the class probabilities, Y one-hot).
    let data = two_classes(40, &[6], &mut stream(31, 0, "train"));
    let trainer = BurnTrainer::new(params(ModelKind::Logreg, 2));
    let model = trainer.fit(&data, &mut stream(31, 0, "m")).unwrap();
    let got = model.loss_gradient(&data);
    let (n, d, k) = (data.len(), 6, 2);
    let p = model.predict_proba(&data);
    let mut want = vec![0.0f64; d * k + k];
    for i in 0..n {
        for c in 0..k {
            let r = f64::from(p.row(i)[c]) - if data.labels()[i] == c { 1.0 } else { 0.0 };
            for j in 0..d {
                want[j * k + c] += f64::from(data.sample(i)[j]) * r / n as f64;
            }
            want[d * k + c] += r / n as f64;
        }
    }
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((f64::from(*g) - w).abs() < 1e-5, "{g} vs {w}");
    }
}

#[test]
fn loss_gradient_matches_finite_differences_for_every_family() {
    for (p, shape) in families(1) {
        let data = two_classes(12, &shape, &mut stream(32, 0, "train"));
        let trainer = BurnTrainer::new(p);
        let model = trainer.fit(&data, &mut stream(32, 0, "m")).unwrap();
        let grad = model.loss_gradient(&data);
        let base = model.parameters();
        let mean_loss = |values: &[f32]| {
            let mut m = model.clone_box();
            m.set_parameters(values).unwrap();
            let l = m.losses(&data);
            l.iter().map(|&x| f64::from(x)).sum::<f64>() / l.len() as f64
        };
        // A few coordinates spread over the vector (first, middle, last layer).
        let n = base.len();
        for i in [0, n / 3, n / 2, n - 3, n - 1] {
            let h = 1e-2f32;
            let (mut up, mut down) = (base.clone(), base.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (mean_loss(&up) - mean_loss(&down)) / (2.0 * f64::from(h));
            let g = f64::from(grad[i]);
            assert!(
                (fd - g).abs() < 2e-3 + 0.05 * g.abs(),
                "{:?} parameter {i}: finite difference {fd}, gradient {g}",
                trainer.params().kind
            );
        }
    }
}
