//! The one place that picks the Burn backend.
//!
//! `flex` (burn's pure-Rust CPU backend) is the default; building with
//! `--no-default-features --features ndarray` selects burn's `ndarray` backend.
//! Neither spawns threads of its own: one run trains on one thread.

use burn::tensor::Device;

/// The plain (inference) device of the selected backend.
pub fn device() -> Device {
    #[cfg(feature = "flex")]
    {
        Device::flex()
    }
    #[cfg(all(feature = "ndarray", not(feature = "flex")))]
    {
        Device::ndarray()
    }
    #[cfg(not(any(feature = "flex", feature = "ndarray")))]
    compile_error!("poisonlab-model needs a backend feature: `flex` (default) or `ndarray`");
}

/// The selected backend with automatic differentiation, for training.
pub fn autodiff_device() -> Device {
    device().autodiff()
}

/// Name of the selected backend, for the versions block of results.
pub const NAME: &str = if cfg!(feature = "flex") {
    "flex"
} else {
    "ndarray"
};
