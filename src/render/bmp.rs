//! BMPs that browsers show but `image`'s decoder refuses, for a header
//! field it reads more strictly than they do: an 8-bit image declaring more
//! than 256 palette entries, 16- or 32-bit bitfields whose masks are all
//! zero (browsers then use the default layout), and RLE stored top-down
//! (negative height), which the format does not allow. The header of a copy
//! is set to what browsers take it to mean, and the same decoder reads it:
//! its checks for short or damaged pixel data still apply.

/// Where the fields are in a BITMAPINFOHEADER (40 bytes) or later one.
const HEIGHT: usize = 22;
const BITS: usize = 28;
const COMPRESSION: usize = 30;
const COLOURS_USED: usize = 46;
/// The three masks after a 40-byte header, or inside a V2+ header.
const MASKS: usize = 54;

const RGB: u32 = 0;
const RLE8: u32 = 1;
const RLE4: u32 = 2;
const BITFIELDS: u32 = 3;

/// A BMP header as browsers read it.
pub(super) struct Repaired {
    /// The file with its header fields set to what they mean.
    pub(super) bytes: Vec<u8>,
    /// The rows come out upside down and must be flipped back.
    pub(super) flip: bool,
}

/// The repaired copy of `b`, when its header has a flaw browsers read past;
/// `None` when it has none of them (the decoder's error stands).
pub(super) fn repair(b: &[u8]) -> Option<Repaired> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?));
    if u32_at(14)? < 40 {
        return None;
    }
    let bits = u16_at(BITS)?;
    let compression = u32_at(COMPRESSION)?;
    let height = u32_at(HEIGHT)? as i32;
    let mut bytes = b.to_vec();
    let mut set = |at: usize, v: u32| bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let mut changed = false;
    let mut flip = false;
    if bits <= 8 && u32_at(COLOURS_USED)? > 1 << bits {
        set(COLOURS_USED, 1 << bits);
        changed = true;
    }
    if compression == BITFIELDS
        && matches!(bits, 16 | 32)
        && (0..3).all(|i| u32_at(MASKS + 4 * i) == Some(0))
    {
        // No mask at all is the default layout: 5-5-5 or 8-8-8.
        set(COMPRESSION, RGB);
        changed = true;
    }
    if matches!(compression, RLE8 | RLE4) && height < 0 && height != i32::MIN {
        set(HEIGHT, height.unsigned_abs());
        flip = true;
        changed = true;
    }
    changed.then_some(Repaired { bytes, flip })
}

/// Reverses the order of rows `row` bytes long.
pub(super) fn flip_rows(pixels: &mut [u8], row: usize) {
    let rows = pixels.len() / row.max(1);
    for y in 0..rows / 2 {
        let (top, bottom) = pixels.split_at_mut((rows - 1 - y) * row);
        top[y * row..(y + 1) * row].swap_with_slice(&mut bottom[..row]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_flip_in_place() {
        let mut p = vec![1, 1, 2, 2, 3, 3];
        flip_rows(&mut p, 2);
        assert_eq!(p, [3, 3, 2, 2, 1, 1]);
        let mut p = vec![1, 2, 3, 4];
        flip_rows(&mut p, 2);
        assert_eq!(p, [3, 4, 1, 2]);
    }

    #[test]
    fn only_the_known_flaws_are_repaired() {
        let header = |bits: u16, compression: u32, height: i32, colours: u32| {
            let mut b = b"BM".to_vec();
            b.extend([0; 12]);
            b.extend(40u32.to_le_bytes());
            b.extend(16i32.to_le_bytes());
            b.extend(height.to_le_bytes());
            b.extend(1u16.to_le_bytes());
            b.extend(bits.to_le_bytes());
            b.extend(compression.to_le_bytes());
            b.extend([0; 12]);
            b.extend(colours.to_le_bytes());
            b.extend([0; 4]);
            b.extend([0; 12]);
            b
        };
        assert!(repair(&header(24, RGB, 8, 0)).is_none());
        assert!(repair(&header(8, RGB, 8, 256)).is_none());
        let r = repair(&header(8, RGB, 8, 300)).unwrap();
        assert_eq!(
            &r.bytes[COLOURS_USED..COLOURS_USED + 4],
            &256u32.to_le_bytes()
        );
        let r = repair(&header(16, BITFIELDS, 8, 0)).unwrap();
        assert_eq!(&r.bytes[COMPRESSION..COMPRESSION + 4], &RGB.to_le_bytes());
        let r = repair(&header(8, RLE8, -8, 0)).unwrap();
        assert!(r.flip);
        assert_eq!(&r.bytes[HEIGHT..HEIGHT + 4], &8i32.to_le_bytes());
        assert!(repair(&header(8, RLE8, 8, 0)).is_none());
        assert!(repair(b"BM").is_none());
    }
}
