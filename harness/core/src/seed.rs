//! Seeding: every random choice comes from a ChaCha8 stream derived from
//! (scenario seed, repeat, stream name).
//!
//! The derivation is fixed and documented so results stay reproducible across
//! versions: the 32-byte ChaCha key is `seed` (8 bytes little-endian),
//! `repeat` (8 bytes little-endian) and a 128-bit FNV-1a hash of the stream
//! name (16 bytes little-endian). Streams with different names are independent;
//! the same name always gives the same stream.

use rand::SeedableRng;

/// The random number generator every poisonlab component takes.
pub type Rng = rand_chacha::ChaCha8Rng;

/// The ChaCha8 stream named `name` for `repeat` of a scenario seeded with `seed`.
pub fn stream(seed: u64, repeat: u64, name: &str) -> Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&repeat.to_le_bytes());
    key[16..].copy_from_slice(&fnv1a_128(name.as_bytes()).to_le_bytes());
    Rng::from_seed(key)
}

/// A 64-bit seed for (seed, repeat): what a run record reports as its seed.
pub fn run_seed(seed: u64, repeat: u64) -> u64 {
    use rand::RngCore;
    stream(seed, repeat, "run").next_u64()
}

fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn same_inputs_same_stream() {
        assert_eq!(
            stream(7, 1, "attack").next_u64(),
            stream(7, 1, "attack").next_u64()
        );
    }

    #[test]
    fn every_input_changes_the_stream() {
        let base = stream(7, 1, "attack").next_u64();
        assert_ne!(base, stream(8, 1, "attack").next_u64());
        assert_ne!(base, stream(7, 2, "attack").next_u64());
        assert_ne!(base, stream(7, 1, "attacl").next_u64());
    }

    #[test]
    fn fnv_matches_reference_vectors() {
        // Published FNV-1a 128-bit test vectors.
        assert_eq!(fnv1a_128(b""), 0x6c62272e07bb014262b821756295c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228cb696f1a8caf78912b704e4a8964);
    }

    const PINNED: u64 = 0x2a66db666cb90c27;

    #[test]
    fn stream_values_are_pinned() {
        // Changing the derivation changes every result file: this pins it.
        let v = stream(0, 0, "model").next_u64();
        assert_eq!(v, PINNED);
    }
}
