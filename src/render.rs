//! Temporary minimal renderer (replaced by the full pipeline).
use crate::variant::{geometry, Variant};

pub struct Limits {
    pub max_pixels: u64,
}

#[derive(Debug)]
pub struct Rendered {
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{0}")]
    Decode(String),
}

pub fn render(
    source: &[u8],
    variants: &[&Variant],
    _limits: &Limits,
) -> Result<Vec<Rendered>, RenderError> {
    let img = image::load_from_memory(source).map_err(|e| RenderError::Decode(e.to_string()))?;
    let mut out = vec![];
    for v in variants {
        let g = geometry(img.width(), img.height(), v.width, v.height, v.fit);
        let small = img
            .resize_exact(
                g.out_width,
                g.out_height,
                image::imageops::FilterType::Triangle,
            )
            .to_rgb8();
        let mut bytes = vec![];
        small
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .map_err(|e| RenderError::Decode(e.to_string()))?;
        out.push(Rendered {
            width: g.out_width,
            height: g.out_height,
            bytes,
        });
    }
    Ok(out)
}
