//! A minimal DER writer: just enough to turn JWK RSA components into PKCS#1 structures.

/// Appends a DER length.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Encodes a non-negative big-endian integer as a DER INTEGER.
pub(crate) fn integer(value: &[u8]) -> Vec<u8> {
    let trimmed: &[u8] = {
        let skip = value.iter().take_while(|b| **b == 0).count();
        &value[skip..]
    };
    let needs_pad = trimmed.first().is_none_or(|b| b & 0x80 != 0);
    let len = trimmed.len() + usize::from(needs_pad);
    let mut out = Vec::with_capacity(len + 6);
    out.push(0x02);
    push_len(&mut out, len);
    if needs_pad {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

/// Wraps already-encoded elements in a DER SEQUENCE.
pub(crate) fn sequence(elements: &[Vec<u8>]) -> Vec<u8> {
    let len: usize = elements.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(0x30);
    push_len(&mut out, len);
    for e in elements {
        out.extend_from_slice(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_with_high_bit_gets_a_leading_zero() {
        assert_eq!(integer(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(&[0x00, 0x01]), vec![0x02, 0x01, 0x01]);
        assert_eq!(integer(&[]), vec![0x02, 0x01, 0x00]);
    }

    #[test]
    fn long_sequences_use_multi_byte_lengths() {
        let big = integer(&[1; 300]);
        let seq = sequence(std::slice::from_ref(&big));
        assert_eq!(&seq[..4], &[0x30, 0x82, 0x01, 0x30]);
        assert_eq!(&seq[4..], &big[..]);
    }
}
