//! Key and IV derivation exactly as `openssl enc` does it: PBKDF2-HMAC (`-pbkdf2 -iter N -md D`) or
//! the legacy one-round `EVP_BytesToKey` (no `-pbkdf2`). Pure functions of passphrase, salt and
//! parameters; every secret intermediate is wiped on drop. Knows nothing of streams.

use zeroize::Zeroizing;

use super::params::{Digest, Kdf, Params};
use super::{BLOCK_LEN, SALT_LEN};

/// Longest key (AES-256) plus the IV: the most key material any parameters need.
const MAX_KEY_IV_LEN: usize = 32 + BLOCK_LEN;

/// Derives the AES key (16, 24 or 32 bytes, after `params.cipher`) and the 16-byte IV.
///
/// PBKDF2: one PBKDF2-HMAC call producing key ‖ IV, as `openssl enc -pbkdf2` does
/// (apps/enc.c: `PKCS5_PBKDF2_HMAC(…, iklen + ivlen, tmpkeyiv)`).
/// Legacy: `EVP_BytesToKey` with count 1: D₁ = H(pass ‖ salt), Dᵢ = H(Dᵢ₋₁ ‖ pass ‖ salt),
/// key ‖ IV = D₁ ‖ D₂ ‖ … (openssl's `EVP_BytesToKey(3)` manual).
pub fn derive_key_iv(
    passphrase: &[u8],
    salt: &[u8; SALT_LEN],
    params: &Params,
) -> (Zeroizing<Vec<u8>>, Zeroizing<[u8; BLOCK_LEN]>) {
    let key_len = params.cipher.key_len();
    let mut material = Zeroizing::new([0u8; MAX_KEY_IV_LEN]);
    let out = &mut material[..key_len + BLOCK_LEN];
    match params.kdf {
        Kdf::Pbkdf2 { iterations } => {
            // openssl refuses 0 iterations; the pbkdf2 crate would silently do one. Say so here.
            let rounds = iterations.max(1);
            match params.digest {
                Digest::Md5 => pbkdf2::pbkdf2_hmac::<md5::Md5>(passphrase, salt, rounds, out),
                Digest::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(passphrase, salt, rounds, out),
                Digest::Sha256 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, salt, rounds, out)
                }
                Digest::Sha512 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(passphrase, salt, rounds, out)
                }
            }
        }
        Kdf::Legacy => match params.digest {
            Digest::Md5 => bytes_to_key::<md5::Md5>(passphrase, salt, out),
            Digest::Sha1 => bytes_to_key::<sha1::Sha1>(passphrase, salt, out),
            Digest::Sha256 => bytes_to_key::<sha2::Sha256>(passphrase, salt, out),
            Digest::Sha512 => bytes_to_key::<sha2::Sha512>(passphrase, salt, out),
        },
    }
    let key = Zeroizing::new(out[..key_len].to_vec());
    let mut iv = Zeroizing::new([0u8; BLOCK_LEN]);
    iv.copy_from_slice(&out[key_len..]);
    (key, iv)
}

/// `EVP_BytesToKey` with one round, filling `out` with D₁ ‖ D₂ ‖ ….
fn bytes_to_key<H: sha2::Digest + Clone>(passphrase: &[u8], salt: &[u8], out: &mut [u8]) {
    let mut filled = 0;
    let mut previous: Option<Zeroizing<Vec<u8>>> = None;
    while filled < out.len() {
        let mut hasher = H::new();
        if let Some(d) = &previous {
            hasher.update(d.as_slice());
        }
        hasher.update(passphrase);
        hasher.update(salt);
        let d = Zeroizing::new(hasher.finalize().to_vec());
        let take = d.len().min(out.len() - filled);
        out[filled..filled + take].copy_from_slice(&d[..take]);
        filled += take;
        previous = Some(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enc::params::Cipher;

    const PASS: &[u8] = b"correct horse battery staple";
    const SALT: [u8; SALT_LEN] = [1, 2, 3, 4, 5, 6, 7, 8];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    /// Known answers printed by OpenSSL 3.0.19:
    /// `P='correct horse battery staple' openssl enc FLAGS -P -S 0102030405060708 -pass env:P`.
    #[track_caller]
    fn check(cipher: Cipher, digest: Digest, kdf: Kdf, key: &str, iv: &str) {
        let params = Params {
            cipher,
            digest,
            kdf,
        };
        let (k, i) = derive_key_iv(PASS, &SALT, &params);
        assert_eq!(
            (hex(&k), hex(&*i)),
            (key.to_owned(), iv.to_owned()),
            "{params:?}"
        );
    }

    #[test]
    fn pbkdf2_matches_openssl() {
        let it = |iterations| Kdf::Pbkdf2 { iterations };
        check(
            Cipher::Aes256Cbc,
            Digest::Sha256,
            it(1000),
            "C4C245387FCD41B9F6F9F5595695BEF268827B7E455951795E3C20638CADACDB",
            "77F636EDF4C05E0FC54B01E45CE49AC3",
        );
        check(
            Cipher::Aes128Cbc,
            Digest::Sha512,
            it(1),
            "21D012D332BB949EB462CE4402C20805",
            "CA7DBD87E9FE32DEF5E74AC468F60A09",
        );
        check(
            Cipher::Aes192Cbc,
            Digest::Sha1,
            it(10_000),
            "E26289A7052EE85929F1BD5671A3038A4271351BE9D2B078",
            "D6D7E824C0DBD0A30E3CDBD40CCDC824",
        );
        check(
            Cipher::Aes256Cbc,
            Digest::Md5,
            it(7),
            "579D7DC4BE70B48BB95795977481F734EB685FAC3034C362D8E116F0B8B20061",
            "C3F9935A1670F7157BE5DD47B32E863D",
        );
    }

    #[test]
    fn legacy_matches_openssl() {
        check(
            Cipher::Aes256Cbc,
            Digest::Md5,
            Kdf::Legacy,
            "6F920A43E427BC52EB313ACE899B93B1F97D81751DEF5647EBAB3F3BB7D0F679",
            "E99863375E6EB096F347A8F7A07E8A27",
        );
        check(
            Cipher::Aes192Cbc,
            Digest::Sha1,
            Kdf::Legacy,
            "6B18D7AE859DAE32157F7F29D0851B75869066D4D8CD5276",
            "F9FE48F3DC44F49A2B68DF33045D0984",
        );
        check(
            Cipher::Aes128Cbc,
            Digest::Sha256,
            Kdf::Legacy,
            "E1109D42D441BC0BD0491F46B649B77D",
            "CE5B8523B6B19C635B652FD823F0622D",
        );
        check(
            Cipher::Aes256Cbc,
            Digest::Sha512,
            Kdf::Legacy,
            "F503AE483C5EF7E0F47613F71853D05ADD56A8F2E5425070538701896934B840",
            "C7F38E7D2CE9346C9489660F5A9DFB91",
        );
    }
}
