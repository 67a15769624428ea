//! Content sniffing: which decoder a source goes to, decided from its first
//! bytes alone, since file names lie. Formats people drop into photo
//! folders but that are not read here get their own "unsupported" message
//! rather than "not an image".

use image::ImageFormat;

use super::RenderError;

/// Which decoder a source goes to.
pub(super) enum Kind {
    Jpeg,
    Avif,
    Jxl,
    #[cfg(feature = "heic")]
    Heif,
    Other(ImageFormat),
}

/// The two members of the HEIF family read here.
enum Family {
    Avif,
    Hevc,
}

/// What an ISOBMFF `ftyp` box says the file is: AVIF or HEIF (HEVC), by
/// its major brand, or for the generic `mif1`/`msf1` major brands by the
/// compatible brands listed after it.
fn heif_family(b: &[u8]) -> Option<Family> {
    if b.len() < 12 || &b[4..8] != b"ftyp" {
        return None;
    }
    let size = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let brands = b.get(16..size.min(b.len()).max(16)).unwrap_or_default();
    let compatible = |wanted: &[&[u8; 4]]| {
        brands
            .chunks_exact(4)
            .any(|brand| wanted.iter().any(|w| brand == *w))
    };
    let major: &[u8] = &b[8..12];
    let avif: &[&[u8; 4]] = &[b"avif", b"avis"];
    let hevc: &[&[u8; 4]] = &[b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"];
    let generic = major == b"mif1" || major == b"msf1";
    if avif.iter().any(|a| major == *a) || (generic && compatible(avif)) {
        return Some(Family::Avif);
    }
    (hevc.iter().any(|h| major == *h) || generic).then_some(Family::Hevc)
}

/// Decides the decoder from the content alone: file names lie.
pub(super) fn sniff(b: &[u8]) -> Result<Kind, RenderError> {
    if b.is_empty() {
        return Err(RenderError::Empty);
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Kind::Jpeg);
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Kind::Other(ImageFormat::Png));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Ok(Kind::Other(ImageFormat::Gif));
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Ok(Kind::Other(ImageFormat::WebP));
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        return Ok(Kind::Other(ImageFormat::Tiff));
    }
    // "BM" alone starts plenty of text files; also require a known DIB
    // header size so that those get the "not an image" message.
    if b.len() >= 18 && b.starts_with(b"BM") {
        let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
        if matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124) {
            return Ok(Kind::Other(ImageFormat::Bmp));
        }
    }
    // Icons: reserved 0, type 1, then a non-zero image count.
    if b.len() >= 22 && b.starts_with(&[0, 0, 1, 0]) && (b[4] != 0 || b[5] != 0) {
        return Ok(Kind::Other(ImageFormat::Ico));
    }
    match heif_family(b) {
        Some(Family::Avif) => return Ok(Kind::Avif),
        #[cfg(feature = "heic")]
        Some(Family::Hevc) => return Ok(Kind::Heif),
        #[cfg(not(feature = "heic"))]
        Some(Family::Hevc) => {
            return Err(RenderError::Unsupported(
                "HEIF/HEIC: this thumbgen was built without the `heic` feature",
            ))
        }
        None => {}
    }
    // A bare JPEG XL codestream, or one in its ISOBMFF container.
    if b.starts_with(&[0xFF, 0x0A]) || b.starts_with(b"\0\0\0\x0cJXL \r\n\x87\n") {
        return Ok(Kind::Jxl);
    }
    // Formats people do drop into photo folders but that are not read here:
    // say so instead of claiming the file is no image at all.
    if b.starts_with(b"8BPS") {
        return Err(RenderError::Unsupported("Photoshop PSD"));
    }
    if b.starts_with(b"qoif") {
        return Err(RenderError::Unsupported("QOI"));
    }
    Err(RenderError::NotAnImage)
}

#[cfg(test)]
mod tests {
    use crate::model::Format;
    use crate::render::test_support::{decode, fixture, render_err, render_one, rgba_at, variant};
    use crate::variant::Fit;

    #[test]
    fn content_decides_the_format_not_the_name() {
        let r = render_one(
            "png-named.jpg",
            &variant(40, 40, Fit::Contain, Format::Jpeg),
        );
        assert_eq!((r.width, r.height), (40, 30));
        assert!(r.bytes.starts_with(&[0xFF, 0xD8, 0xFF]));
        // an icon saved under a .png name, as favicons often are
        let r = render_one(
            "icon-named.png",
            &variant(64, 64, Fit::Contain, Format::Png),
        );
        assert_eq!((r.width, r.height), (32, 32));
        let img = decode(&r);
        assert_eq!(rgba_at(&img, 2, 2)[3], 0, "transparent quarter kept");
        assert_eq!(rgba_at(&img, 30, 30), [200, 30, 30, 255]);
    }

    #[test]
    fn unrecognised_and_unsupported_content_is_named() {
        assert_eq!(render_err(&fixture("empty.jpg")), "empty file");
        assert_eq!(
            render_err(&fixture("not-an-image.jpg")),
            "not an image (unrecognised content)"
        );
        assert_eq!(
            render_err(b"BM is also how some text starts"),
            "not an image (unrecognised content)"
        );
        let heic = render_err(b"\0\0\0\x18ftypheic\0\0\0\0");
        if cfg!(feature = "heic") {
            assert!(heic.starts_with("corrupt or truncated HEIF data"), "{heic}");
        } else {
            assert_eq!(
                heic,
                "unsupported image format (HEIF/HEIC: this thumbgen was built without the `heic` feature)"
            );
        }
        let jxl = render_err(b"\0\0\0\x0cJXL \r\n\x87\n\0\0\0\0");
        assert!(
            jxl.starts_with("corrupt or truncated JPEG XL data"),
            "{jxl}"
        );
        assert_eq!(
            render_err(b"8BPS\0\x01\0\0\0\0\0\0"),
            "unsupported image format (Photoshop PSD)"
        );
    }

    #[test]
    fn the_heif_family_is_told_apart_by_its_brands() {
        use super::{sniff, Kind};
        let ftyp = |major: &[u8; 4], compatible: &[&[u8; 4]]| {
            let mut b = ((16 + 4 * compatible.len()) as u32).to_be_bytes().to_vec();
            b.extend(b"ftyp");
            b.extend(major);
            b.extend([0; 4]);
            for c in compatible {
                b.extend(*c);
            }
            b.extend([0; 16]);
            b
        };
        assert!(matches!(sniff(&ftyp(b"avif", &[b"mif1"])), Ok(Kind::Avif)));
        // Generic major brands name the codec among the compatible ones.
        assert!(matches!(
            sniff(&ftyp(b"mif1", &[b"miaf", b"avif"])),
            Ok(Kind::Avif)
        ));
        let heic = sniff(&ftyp(b"mif1", &[b"heic"]));
        #[cfg(feature = "heic")]
        assert!(matches!(heic, Ok(Kind::Heif)));
        #[cfg(not(feature = "heic"))]
        assert!(matches!(heic, Err(super::RenderError::Unsupported(_))));
        // An MP4 video is no picture.
        assert!(matches!(
            sniff(&ftyp(b"isom", &[b"mp41"])),
            Err(super::RenderError::NotAnImage)
        ));
    }
}
