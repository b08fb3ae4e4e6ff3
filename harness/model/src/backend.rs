//! The one place that picks the Burn backend.
//!
//! `flex` (burn's pure-Rust CPU backend) is the default; building with
//! `--no-default-features --features ndarray` selects burn's `ndarray` backend,
//! and `--no-default-features --features flex-portable` flex without its
//! run-time-dispatched SIMD layer and AVX-512 matrix kernels (the same
//! kernels on AVX2 and AVX-512 machines).
//! Neither spawns threads of its own: one run trains on one thread.

use burn::tensor::Device;

/// The plain (inference) device of the selected backend.
pub fn device() -> Device {
    #[cfg(feature = "flex-portable")]
    {
        Device::flex()
    }
    #[cfg(all(feature = "ndarray", not(feature = "flex-portable")))]
    {
        Device::ndarray()
    }
    #[cfg(not(any(feature = "flex-portable", feature = "ndarray")))]
    compile_error!("poisonlab-model needs a backend feature: `flex` (default) or `ndarray`");
}

/// The selected backend with automatic differentiation, for training.
pub fn autodiff_device() -> Device {
    device().autodiff()
}

/// Name of the selected backend, for the versions block of results.
pub const NAME: &str = if cfg!(feature = "flex") {
    "flex"
} else if cfg!(feature = "flex-portable") {
    "flex-portable"
} else {
    "ndarray"
};

/// The numeric kernel set this machine computes with, as the run-time
/// dispatchers will pick it: the matrix-product kernels of `gemm` (AVX-512
/// `avx512f` when built with burn's `x86-v4` feature and the CPU has it,
/// else `fma`, else `scalar`), the SIMD level of burn's element-wise and
/// reduction kernels (`macerator`: v4 = AVX-512, v3 = AVX2 + FMA, v2 =
/// SSE4.2, scalar), and the L1 data cache geometry gemm derives its
/// k-blocking from (products over more than 512 terms are cut into blocks
/// whose length depends on it). Two machines with the same name give the
/// same bits; runs on different ones differ in the last bits.
pub fn kernel_set() -> String {
    let l1 = gemm_common::cache::CACHE_INFO[0];
    let l1 = format!("L1d {} KiB {}-way", l1.cache_bytes / 1024, l1.associativity);
    // flex-portable builds burn without its SIMD layer.
    let simd = if cfg!(feature = "flex") || !cfg!(feature = "flex-portable") {
        simd_level()
    } else {
        "none"
    };
    format!("{NAME}: gemm {}, simd {simd}, {l1}", gemm_level())
}

/// The gemm f32 kernel family picked at run time.
fn gemm_level() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if cfg!(feature = "flex") && std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "fma";
        }
        "scalar"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// The SIMD level burn's element-wise and reduction kernels dispatch to.
fn simd_level() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        macro_rules! all {
            ($($f:tt),*) => { true $(&& std::arch::is_x86_feature_detected!($f))* };
        }
        let v2 = all!("sse3", "ssse3", "sse4.1", "sse4.2", "popcnt");
        let v3 = v2 && all!("avx", "avx2", "bmi1", "bmi2", "fma", "lzcnt", "f16c");
        let v4 = v3 && all!("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl");
        match (v4, v3, v2) {
            (true, _, _) => "v4",
            (_, true, _) => "v3",
            (_, _, true) => "v2",
            _ => "scalar",
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        "neon"
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

#[cfg(test)]
mod kernel_tests {
    #[test]
    fn the_kernel_set_names_backend_gemm_simd_and_cache() {
        let k = super::kernel_set();
        assert!(k.starts_with(super::NAME), "{k}");
        assert!(
            k.contains("gemm ") && k.contains("simd ") && k.contains("L1d "),
            "{k}"
        );
        // Stable within a process: every record of a run names the same set.
        assert_eq!(k, super::kernel_set());
    }
}
