//! How the training set is dealt out to federated clients (`[federated] split`).

use poisonlab_core::Rng;
use poisonlab_scenario::{FederatedParams, Split};
use rand::Rng as _;
use rand::seq::SliceRandom;

/// The training rows of each client (ascending within a client), from
/// `labels` of a training set with `n_classes` classes; every row goes to
/// exactly one client. Clients may be left empty (Dirichlet with a small
/// alpha, more shards than rows): the caller reports them.
pub(crate) fn split(
    labels: &[usize],
    n_classes: usize,
    p: &FederatedParams,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    let mut clients = match p.split {
        Split::Iid => iid(labels.len(), p.clients, rng),
        Split::Dirichlet => dirichlet(labels, n_classes, p.clients, p.alpha, rng),
        Split::Shards => shards(labels, p.clients, p.shards_per_client, rng),
    };
    for rows in &mut clients {
        rows.sort_unstable();
    }
    clients
}

/// Shuffle the rows and deal them out in equal parts (sizes differ by at most one).
fn iid(n: usize, clients: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut rows: Vec<usize> = (0..n).collect();
    rows.shuffle(rng);
    (0..clients)
        .map(|c| rows[c * n / clients..(c + 1) * n / clients].to_vec())
        .collect()
}

/// Per class, shares of the clients drawn from a symmetric Dirichlet(alpha)
/// (Hsu et al. 2019, "Measuring the Effects of Non-Identical Data
/// Distribution for Federated Visual Classification"); the class's shuffled
/// rows are cut at the cumulative shares.
fn dirichlet(
    labels: &[usize],
    n_classes: usize,
    clients: usize,
    alpha: f64,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); clients];
    for class in 0..n_classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(rng);
        let draws: Vec<f64> = (0..clients).map(|_| gamma(alpha, rng)).collect();
        let total: f64 = draws.iter().sum();
        let n = rows.len();
        let mut cum = 0.0;
        let mut start = 0;
        for (c, d) in draws.iter().enumerate() {
            cum += d;
            let end = if c + 1 == clients || total <= 0.0 {
                n
            } else {
                ((cum / total * n as f64).round() as usize).clamp(start, n)
            };
            out[c].extend_from_slice(&rows[start..end]);
            start = end;
        }
    }
    out
}

/// Sort the rows by label (stable, so by row within a class), cut them into
/// `clients × per_client` shards of (nearly) equal size and give each client
/// `per_client` shards at random (McMahan et al. 2017's pathological non-IID
/// split: about `per_client` classes per client).
fn shards(labels: &[usize], clients: usize, per_client: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    let mut rows: Vec<usize> = (0..labels.len()).collect();
    rows.sort_by_key(|&i| labels[i]);
    let n_shards = clients * per_client;
    let n = rows.len();
    let mut order: Vec<usize> = (0..n_shards).collect();
    order.shuffle(rng);
    (0..clients)
        .map(|c| {
            order[c * per_client..(c + 1) * per_client]
                .iter()
                .flat_map(|&s| {
                    rows[s * n / n_shards..(s + 1) * n / n_shards]
                        .iter()
                        .copied()
                })
                .collect()
        })
        .collect()
}

/// One draw of Gamma(shape, 1): Marsaglia and Tsang 2000, "A Simple Method
/// for Generating Gamma Variables" (for shape < 1, boosted by U^(1/shape)).
fn gamma(shape: f64, rng: &mut Rng) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.random::<f64>();
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u: f64 = rng.random::<f64>();
        if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// One standard normal draw (Box–Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use poisonlab_core::stream;

    fn params(split: Split) -> FederatedParams {
        FederatedParams {
            clients: 10,
            split,
            ..FederatedParams::default()
        }
    }

    fn labels(n: usize) -> Vec<usize> {
        (0..n).map(|i| i % 10).collect()
    }

    fn check_partition(clients: &[Vec<usize>], n: usize) {
        let mut all: Vec<usize> = clients.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "every row exactly once");
    }

    #[test]
    fn iid_deals_equal_parts() {
        let c = split(
            &labels(1003),
            10,
            &params(Split::Iid),
            &mut stream(1, 0, "s"),
        );
        check_partition(&c, 1003);
        assert!(c.iter().all(|r| r.len() == 100 || r.len() == 101));
    }

    #[test]
    fn shards_give_few_classes_per_client() {
        let p = FederatedParams {
            shards_per_client: 2,
            ..params(Split::Shards)
        };
        let l = labels(1000);
        let c = split(&l, 10, &p, &mut stream(1, 0, "s"));
        check_partition(&c, 1000);
        for rows in &c {
            let mut classes: Vec<usize> = rows.iter().map(|&i| l[i]).collect();
            classes.dedup();
            classes.sort_unstable();
            classes.dedup();
            assert!(classes.len() <= 2, "{classes:?}");
        }
    }

    #[test]
    fn dirichlet_concentration_controls_skew() {
        let l = labels(5000);
        let skew = |alpha: f64| {
            let p = FederatedParams {
                alpha,
                ..params(Split::Dirichlet)
            };
            let c = split(&l, 10, &p, &mut stream(2, 0, "s"));
            check_partition(&c, 5000);
            // Mean over clients of the largest class share.
            let shares: Vec<f64> = c
                .iter()
                .filter(|r| !r.is_empty())
                .map(|rows| {
                    let mut count = [0usize; 10];
                    for &i in rows {
                        count[l[i]] += 1;
                    }
                    *count.iter().max().unwrap_or(&0) as f64 / rows.len() as f64
                })
                .collect();
            shares.iter().sum::<f64>() / shares.len() as f64
        };
        let (small, large) = (skew(0.1), skew(100.0));
        assert!(small > 0.5, "alpha 0.1: {small}");
        assert!(large < 0.2, "alpha 100: {large}");
    }

    #[test]
    fn gamma_has_its_mean() {
        let mut rng = stream(3, 0, "g");
        for shape in [0.3, 1.0, 4.0] {
            let n = 20_000;
            let mean = (0..n).map(|_| gamma(shape, &mut rng)).sum::<f64>() / n as f64;
            assert!(
                (mean - shape).abs() < 0.05 * shape.max(1.0),
                "{shape}: {mean}"
            );
        }
    }

    #[test]
    fn splits_are_seeded() {
        for s in [Split::Iid, Split::Dirichlet, Split::Shards] {
            let a = split(&labels(500), 10, &params(s), &mut stream(4, 0, "s"));
            let b = split(&labels(500), 10, &params(s), &mut stream(4, 0, "s"));
            assert_eq!(a, b);
        }
    }
}
