//! The MetaPoison meta-gradient from first-order gradients only.
//!
//! # What is computed
//!
//! One target t (labelled with the base class y_b) and poisons x_p (the
//! first P rows of every unrolled batch). The surrogate starts at θ₀ and
//! takes K plain SGD steps, step j on the batch X_j = poisons ∪ C_j (clean
//! samples C_j, B_j samples in all) with the batch-mean cross-entropy:
//!
//! θ_{j+1} = θ_j − η g_j,   g_j = ∇θ L(θ_j; X_j) = (1/B_j) Σ_{i∈X_j} ∇θ ℓ(x_i, y_i; θ_j).
//!
//! The adversarial loss is L_adv = ℓ(t, y_b; θ_K). Reverse mode through the
//! steps, with u_j = dL_adv/dθ_j:
//!
//! - u_K = ∇θ ℓ(t, y_b; θ_K) ([`Model::loss_gradient`] on the relabelled target);
//! - for j = K−1 down to 0, poison p's gradient gains
//!   −(η / B_j) ∇x[∇θ ℓ(x_p, y_p; θ_j) · u_{j+1}],
//!   and, for j ≥ 1, u_j = u_{j+1} − η H_j u_{j+1} with H_j = ∇²θ L(θ_j; X_j)
//!   (u₀ is not needed: θ₀ does not depend on the poisons).
//!
//! Both second-order terms are central finite differences of first-order
//! gradients along û = u/‖u‖ (Burn has no gradient of a gradient):
//!
//! - ∇x[∇θ ℓ(x; θ) · u] ≈ (∇x ℓ(x; θ + hû) − ∇x ℓ(x; θ − hû)) ‖u‖ / 2h
//!   ([`poisonlab_core::Classifier::input_gradient`] on a copy of the
//!   surrogate with its parameters moved),
//! - H u ≈ (∇θ L(θ + hû) − ∇θ L(θ − hû)) ‖u‖ / 2h ([`Model::loss_gradient`]);
//!
//! both exact up to O(h²) (and exact for a loss quadratic in θ).
//!
//! # Cost
//!
//! Per surrogate and call: K batch gradients for the forward unroll, one
//! target gradient, 2K input gradients
//! of the P poisons and 2(K − 1) batch gradients for the reverse pass, and
//! 3K parameter writes; memory K + 1 parameter vectors. With K = 2: four
//! batch-sized backward passes, four poison-sized ones and one of the target.

use poisonlab_core::{Dataset, Matrix, Model, ParameterError};

/// How the surrogate trains inside the unroll, and the finite-difference step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Unroll {
    /// η, the learning rate of the unrolled SGD steps.
    pub lr: f32,
    /// h, the finite-difference step (a distance in parameter space).
    pub fd_step: f32,
}

/// One unrolled batch: the poisons, then the clean samples.
pub(crate) fn batch(poisons: &Dataset, clean: &Dataset) -> Dataset {
    let mut b = poisons.clone();
    b.extend(clean);
    b
}

/// θ₀ … θ_K: K SGD steps of `work` from `theta0`, one per batch; `work`
/// is left at θ_K.
fn trajectory(
    work: &mut dyn Model,
    theta0: Vec<f32>,
    batches: &[Dataset],
    lr: f32,
) -> Result<Vec<Vec<f32>>, ParameterError> {
    let mut thetas = Vec::with_capacity(batches.len() + 1);
    work.set_parameters(&theta0)?;
    thetas.push(theta0);
    for b in batches {
        let g = work.loss_gradient(b);
        let next: Vec<f32> = thetas[thetas.len() - 1]
            .iter()
            .zip(&g)
            .map(|(t, g)| t - lr * g)
            .collect();
        work.set_parameters(&next)?;
        thetas.push(next);
    }
    Ok(thetas)
}

/// The adversarial loss (mean cross-entropy of `target` at its labels,
/// which the caller set to the base class) after the SGD steps of `model`
/// on the poisons joined with each of `cleans` in turn.
#[cfg(test)]
pub(crate) fn adversarial_loss(
    model: &dyn Model,
    poisons: &Dataset,
    cleans: &[Dataset],
    target: &Dataset,
    unroll: Unroll,
) -> Result<f32, ParameterError> {
    let mut work = model.clone_box();
    let batches: Vec<Dataset> = cleans.iter().map(|c| batch(poisons, c)).collect();
    trajectory(work.as_mut(), model.parameters(), &batches, unroll.lr)?;
    Ok(mean(&work.losses(target)))
}

/// dL_adv/dx for every poison, one row each (see the module documentation
/// for what exactly and at what cost).
pub(crate) fn meta_gradient(
    model: &dyn Model,
    poisons: &Dataset,
    cleans: &[Dataset],
    target: &Dataset,
    unroll: Unroll,
) -> Result<Matrix, ParameterError> {
    let mut work = model.clone_box();
    let batches: Vec<Dataset> = cleans.iter().map(|c| batch(poisons, c)).collect();
    let thetas = trajectory(work.as_mut(), model.parameters(), &batches, unroll.lr)?;
    let mut u = work.loss_gradient(target);
    let (n, dim) = (poisons.len(), poisons.dim());
    let mut grad = vec![0.0f64; n * dim];
    for j in (0..batches.len()).rev() {
        let c = curvature(
            work.as_mut(),
            &thetas[j],
            &u,
            unroll.fd_step,
            poisons,
            (j > 0).then_some(&batches[j]),
        )?;
        let scale = -f64::from(unroll.lr) / batches[j].len() as f64;
        for (g, &c) in grad.iter_mut().zip(&c.input.data) {
            *g += scale * f64::from(c);
        }
        if let Some(hu) = c.params {
            for (u, hu) in u.iter_mut().zip(hu) {
                *u -= unroll.lr * hu;
            }
        }
    }
    Ok(Matrix::new(
        n,
        dim,
        grad.into_iter().map(|g| g as f32).collect(),
    ))
}

/// Finite-difference second derivatives at θ along v.
#[derive(Debug, Clone)]
pub(crate) struct Curvature {
    /// ∇x[∇θ ℓ(x, y; θ) · v] for each row of the input-side data.
    pub input: Matrix,
    /// H v, H the Hessian of the batch-mean loss (when a batch was given).
    pub params: Option<Vec<f32>>,
}

/// Central differences at θ ± h v/‖v‖, scaled by ‖v‖/2h: the mixed
/// derivative ∇x[∇θ ℓ · v] for every row of `inputs` and, when `batch` is
/// given, the Hessian-vector product of its mean loss. Leaves `work` at
/// θ − h v/‖v‖. Zero when v is.
pub(crate) fn curvature(
    work: &mut dyn Model,
    theta: &[f32],
    v: &[f32],
    h: f32,
    inputs: &Dataset,
    batch: Option<&Dataset>,
) -> Result<Curvature, ParameterError> {
    let norm = v
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return Ok(Curvature {
            input: Matrix::new(
                inputs.len(),
                inputs.dim(),
                vec![0.0; inputs.len() * inputs.dim()],
            ),
            params: batch.map(|_| vec![0.0; theta.len()]),
        });
    }
    let mut side = |sign: f64| -> Result<(Matrix, Option<Vec<f32>>), ParameterError> {
        let step = sign * f64::from(h) / norm;
        let moved: Vec<f32> = theta
            .iter()
            .zip(v)
            .map(|(&t, &v)| (f64::from(t) + step * f64::from(v)) as f32)
            .collect();
        work.set_parameters(&moved)?;
        Ok((
            work.input_gradient(inputs),
            batch.map(|b| work.loss_gradient(b)),
        ))
    };
    let (plus_x, plus_p) = side(1.0)?;
    let (minus_x, minus_p) = side(-1.0)?;
    let scale = norm / (2.0 * f64::from(h));
    let diff = |a: &[f32], b: &[f32]| -> Vec<f32> {
        a.iter()
            .zip(b)
            .map(|(&a, &b)| ((f64::from(a) - f64::from(b)) * scale) as f32)
            .collect()
    };
    Ok(Curvature {
        input: Matrix::new(plus_x.rows, plus_x.cols, diff(&plus_x.data, &minus_x.data)),
        params: plus_p.zip(minus_p).map(|(a, b)| diff(&a, &b)),
    })
}

#[cfg(test)]
fn mean(values: &[f32]) -> f32 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f32>() / values.len() as f32
    }
}
