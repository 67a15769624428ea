//! Whether a file that decoded holds all of itself. A decoder stops once it
//! has the pixels, so a file cut after its image data still decodes: whole
//! pixels, a damaged file. Like a JPEG without its end marker, it builds,
//! and the caller warns (`Leniency::CutShort`); these are the same checks
//! for the formats the `image` crate reads, from the structure each file
//! declares.

use image::ImageFormat;

/// What is missing from the end of `bytes`, a file of `format` that
/// decoded, in words, if anything.
pub(super) fn missing_end(format: ImageFormat, bytes: &[u8]) -> Option<&'static str> {
    match format {
        ImageFormat::Png => png_end_missing(bytes).then_some("its end chunk (IEND) is missing"),
        ImageFormat::WebP => riff_short(bytes).then_some("it is shorter than its RIFF header says"),
        ImageFormat::Tiff => tiff_values_past_end(bytes).then_some("tag values lie past its end"),
        _ => None,
    }
}

/// A PNG ends with an IEND chunk: a zero length, the type, its CRC. (Bytes
/// after it are ignored, as browsers do.)
fn png_end_missing(bytes: &[u8]) -> bool {
    const IEND: &[u8] = b"\0\0\0\0IEND";
    match bytes.windows(IEND.len()).rposition(|w| w == IEND) {
        Some(at) => bytes.len() < at + IEND.len() + 4,
        None => true,
    }
}

/// A RIFF file (WebP) gives its size after the first four bytes.
fn riff_short(bytes: &[u8]) -> bool {
    let Some(size) = bytes.get(4..8) else {
        return true;
    };
    let size = u32::from_le_bytes(size.try_into().expect("4 bytes"));
    (bytes.len() as u64) < 8 + u64::from(size)
}

/// Whether a value of the first IFD of a classic TIFF (the image decoded)
/// lies past the end of the file. BigTIFF is not checked.
fn tiff_values_past_end(bytes: &[u8]) -> bool {
    let little = match bytes.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return false,
    };
    let u16_at = |at: usize| -> Option<u64> {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }))
    };
    let u32_at = |at: usize| -> Option<u64> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }))
    };
    let len = bytes.len() as u64;
    let Some(ifd) = u32_at(4) else {
        return true;
    };
    let Some(entries) = u16_at(ifd as usize) else {
        return true;
    };
    // Each entry: tag, type, count, then the value or its offset.
    if ifd + 2 + entries * 12 + 4 > len {
        return true;
    }
    (0..entries).any(|i| {
        let entry = (ifd + 2 + i * 12) as usize;
        let (Some(kind), Some(count), Some(offset)) =
            (u16_at(entry + 2), u32_at(entry + 4), u32_at(entry + 8))
        else {
            return true;
        };
        let size = match kind {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 | 13 => 4,
            5 | 10 | 12 => 8,
            // A type this walk does not know (the decoder skipped it too).
            _ => return false,
        };
        let value = size * count;
        value > 4 && offset + value > len
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_after_the_pixels_are_found_per_format() {
        let png = crate::render::test_support::fixture("icc.png");
        assert_eq!(missing_end(ImageFormat::Png, &png), None);
        let mut trailing = png.clone();
        trailing.extend(b"junk after the end");
        assert_eq!(missing_end(ImageFormat::Png, &trailing), None);
        for cut in [1, 4, 12] {
            assert!(
                missing_end(ImageFormat::Png, &png[..png.len() - cut]).is_some(),
                "{cut}"
            );
        }

        let mut riff = b"RIFF\x0c\0\0\0WEBPVP8 ".to_vec();
        assert_eq!(
            missing_end(ImageFormat::WebP, &riff),
            Some("it is shorter than its RIFF header says")
        );
        riff.extend([0; 8]);
        assert_eq!(missing_end(ImageFormat::WebP, &riff), None);

        // One IFD of one entry whose 8-byte value sits at offset 26.
        let mut tiff = b"II*\0\x08\0\0\0\x01\0\x1a\x01\x05\0\x01\0\0\0\x1a\0\0\0\0\0\0\0".to_vec();
        assert!(missing_end(ImageFormat::Tiff, &tiff).is_some());
        tiff.extend([0; 8]);
        assert_eq!(missing_end(ImageFormat::Tiff, &tiff), None);
    }
}
