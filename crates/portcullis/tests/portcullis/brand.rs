//! The brand settings are checked when the binary starts: a theme template that does not
//! compile, or a colour that is not one, stops `serve` before it opens a database.

use std::process::Command;

fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .output()
        .expect("run portcullis");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_broken_theme_template_stops_the_start_with_its_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let theme = dir.path().join("theme");
    std::fs::create_dir(&theme).expect("theme dir");
    std::fs::write(
        theme.join("login.html"),
        "<h1>{{ t(\"login-title\") }}</h1>\n{% if error %}\n<p>{{ error }}</p>\n",
    )
    .expect("template");
    let (ok, stderr) = serve(
        dir.path(),
        &[("PORTCULLIS_THEME_DIR", theme.to_str().expect("utf-8 path"))],
    );
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("PORTCULLIS_THEME_DIR"), "{stderr}");
    assert!(stderr.contains("login.html, line 3"), "{stderr}");
    assert!(!dir.path().join("data").exists(), "no database was made");
}

#[test]
fn an_unknown_template_in_the_theme_and_a_bad_colour_stop_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("sigin.html"), "<p>typo</p>").expect("template");
    let (ok, stderr) = serve(
        dir.path(),
        &[(
            "PORTCULLIS_THEME_DIR",
            dir.path().to_str().expect("utf-8 path"),
        )],
    );
    assert!(!ok && stderr.contains("sigin.html"), "{stderr}");

    let (ok, stderr) = serve(dir.path(), &[("PORTCULLIS_BRAND_PRIMARY_COLOR", "teal")]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("PORTCULLIS_BRAND_PRIMARY_COLOR"),
        "{stderr}"
    );
}
