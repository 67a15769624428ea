use crate::common::*;

#[test]
fn clean_removes_recorded_outputs_and_cache_only() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    env.add_image("s/b.png", 100, 80, 2);
    env.build(&[], 0);
    std::fs::write(env.out("thumb/s/mine.txt"), b"keep me").unwrap();
    let run = Run::from(env.cmd(&["clean"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!env.root().join(".thumbgen").exists());
    let left: Vec<String> = env.outputs().into_keys().collect();
    assert_eq!(left, ["thumb/", "thumb/s/", "thumb/s/mine.txt"]);
    assert!(env.src("a.jpg").exists() && env.src("s/b.png").exists());
    // and a build after clean makes everything again
    assert_eq!(env.build(&[], 0).summary(), [4, 0, 0, 0]);
}

#[test]
fn clean_without_cache_is_harmless() {
    let env = Env::new(TWO_VARIANTS);
    let run = Run::from(env.cmd(&["clean"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn clean_removes_the_emptied_output_root() {
    let env = Env::new(TWO_VARIANTS);
    env.add_image("a.jpg", 100, 80, 1);
    env.build(&[], 0);
    assert_eq!(Run::from(env.cmd(&["clean"])).code, 0);
    assert!(!env.root().join("public/thumbs").exists());
}
