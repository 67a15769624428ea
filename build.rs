//! Builds the small C shim over the system libjpeg (libjpeg-turbo) used for
//! fast scaled JPEG decoding.

fn main() {
    println!("cargo:rerun-if-changed=src/render/jpeg_shim.c");
    let mut build = cc::Build::new();
    build
        .file("src/render/jpeg_shim.c")
        .warnings(true)
        .opt_level(2);
    match pkg_config::Config::new().probe("libjpeg") {
        Ok(lib) => {
            for dir in &lib.include_paths {
                build.include(dir);
            }
        }
        // No .pc file: fall back to the default search paths.
        Err(_) => println!("cargo:rustc-link-lib=jpeg"),
    }
    build.compile("thumbgen_jpeg");
}
