//! Small, fast checks of the models and the Classifier contract.

use poisonlab_core::seed::stream;
use poisonlab_core::{Classifier, Dataset, Rng, metrics};
use rand::Rng as _;

use crate::{BurnTrainer, ModelError, ModelKind, ModelParams};

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
        poisonlab_core::Matrix::new(40, 5, flat.features().to_vec())
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
