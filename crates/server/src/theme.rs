//! The operator's brand on every page: the primary colour (`/static/brand.css`), and a theme
//! folder (`PORTCULLIS_THEME_DIR`) whose templates and stylesheet replace the built-in ones.
//!
//! The built-in pages are askama templates compiled into the binary, so a theme's templates
//! need an engine that compiles them at run time: minijinja, whose syntax is the Jinja family
//! askama's belongs to. A themed page gets the same fields as the built-in one (its askama
//! struct, serialized), `ui` (`lang`, `dir`, `brand`, `logo`), the function `t(id, name=value…)`
//! for messages and the filter `tx` for sentences made in Rust. The folder is read once, at
//! start, and every template in it is compiled then: a template that does not compile, or a
//! file the server would never use, stops the start with the file's name (and line).
//!
//! A theme template overrides the page of the same name; it may extend or include the theme's
//! other templates (its own `base.html`, say), not the built-in ones, whose askama syntax is
//! not minijinja's. The pages a theme may replace are [`THEMEABLE`]: sign-in, sign-up,
//! consent, errors, notices, sign-out, the password pages and the account chooser; the account
//! pages keep the built-in templates and take the theme's stylesheet.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};

use crate::i18n::{self, Lang, PageUi};

/// The templates a theme may hold: the themeable pages and `base.html` for them to extend.
pub const THEMEABLE: &[&str] = &[
    "base.html",
    "login.html",
    "signup.html",
    "consent.html",
    "error.html",
    "notice.html",
    "logout.html",
    "forgot.html",
    "reset.html",
    "choose.html",
];

/// The stylesheet file of a theme: it replaces `/static/portcullis.css`.
pub const STYLESHEET: &str = "portcullis.css";

/// A primary colour, `#rgb` or `#rrggbb` (parsed, so it can go into a stylesheet as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub fn parse(raw: &str) -> Option<Color> {
        let hex = raw.trim().strip_prefix('#')?;
        ((hex.len() == 3 || hex.len() == 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
            .then(|| Color(format!("#{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The WCAG 2.x contrast ratio of white on this colour: the buttons' text is white on the
    /// primary colour, which WCAG 2.2 AA (1.4.3) wants at least 4.5:1.
    pub fn contrast_with_white(&self) -> f64 {
        let hex = &self.0[1..];
        let channel = |i: usize| -> f64 {
            let v = if hex.len() == 3 {
                u8::from_str_radix(&hex[i..=i].repeat(2), 16)
            } else {
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            }
            .map_or(0.0, f64::from)
                / 255.0;
            if v <= 0.040_45 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let luminance = 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
        1.05 / (luminance + 0.05)
    }
}

/// The least contrast of white on the primary colour the server accepts (WCAG 2.2 AA, text).
pub const MIN_CONTRAST: f64 = 4.5;

/// Why a theme folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a template or stylesheet this server uses (templates: {}; stylesheet: {STYLESHEET})",
        THEMEABLE.join(", ")
    )]
    Unknown { path: PathBuf },
    #[error("{path}, line {line}: {message}")]
    Template {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// A theme folder, read and compiled.
pub struct Theme {
    dir: PathBuf,
    env: Environment<'static>,
    templates: BTreeSet<String>,
    stylesheet: Option<String>,
}

impl fmt::Debug for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Theme")
            .field("dir", &self.dir)
            .field("templates", &self.templates)
            .field("stylesheet", &self.stylesheet.is_some())
            .finish_non_exhaustive()
    }
}

impl Theme {
    /// Reads and compiles the theme in `dir`.
    pub fn load(dir: &Path) -> Result<Theme, ThemeError> {
        let read_err = |path: &Path| {
            let path = path.to_owned();
            move |source| ThemeError::Read { path, source }
        };
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_function("t", translate);
        env.add_filter("tx", sentence);
        let mut templates = BTreeSet::new();
        let mut stylesheet = None;
        let mut entries = std::fs::read_dir(dir)
            .map_err(read_err(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_err(dir))?;
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if name.starts_with('.') || path.is_dir() {
                continue;
            }
            if name == STYLESHEET {
                stylesheet = Some(std::fs::read_to_string(&path).map_err(read_err(&path))?);
                continue;
            }
            if !THEMEABLE.contains(&name.as_str()) {
                return Err(ThemeError::Unknown { path });
            }
            let source = std::fs::read_to_string(&path).map_err(read_err(&path))?;
            env.add_template_owned(name.clone(), source)
                .map_err(|e| ThemeError::Template {
                    line: e.line().unwrap_or(0),
                    message: e.detail().unwrap_or("syntax error").to_owned(),
                    path: path.clone(),
                })?;
            templates.insert(name);
        }
        Ok(Theme {
            dir: dir.to_owned(),
            env,
            templates,
            stylesheet,
        })
    }

    /// Whether the theme replaces the page `name`.
    /// The folder the theme was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The pages the theme replaces.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.templates.contains(name)
    }

    /// The theme's stylesheet, if it has one.
    pub fn stylesheet(&self) -> Option<&str> {
        self.stylesheet.as_deref()
    }

    /// Renders the theme's `name` with a page's fields and the page context.
    pub fn render(
        &self,
        name: &str,
        fields: &impl serde::Serialize,
        ui: &PageUi,
    ) -> Result<String, minijinja::Error> {
        let page = Value::from_serialize(fields);
        let ctx = minijinja::context! {
            ui => minijinja::context! {
                lang => ui.lang.code(),
                dir => ui.lang.dir(),
                brand => ui.settings.brand_name.as_str(),
                logo => ui.settings.brand_logo_url.as_deref(),
            },
            ..page
        };
        self.env.get_template(name)?.render(ctx)
    }
}

fn page_lang(state: &State<'_, '_>) -> Lang {
    state
        .lookup("ui")
        .and_then(|ui| ui.get_attr("lang").ok())
        .and_then(|l| l.as_str().and_then(Lang::from_tag))
        .unwrap_or(Lang::En)
}

/// `t("id", name=value…)` in a theme template.
fn translate(state: &State<'_, '_>, id: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let mut args = fluent_bundle::FluentArgs::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        args.set(name.to_owned(), value.to_string());
    }
    kwargs.assert_all_used()?;
    Ok(i18n::message(page_lang(state), id, Some(&args)))
}

/// `sentence|tx` in a theme template.
fn sentence(state: &State<'_, '_>, english: &str) -> String {
    i18n::text(page_lang(state), english).into_owned()
}

/// `/static/brand.css`: the primary colour as the pages' accent, or nothing.
pub fn brand_css(color: Option<&Color>) -> String {
    match color {
        Some(c) => format!(
            "/* PORTCULLIS_BRAND_PRIMARY_COLOR */\n:root {{ --accent: {}; }}\n",
            c.as_str()
        ),
        None => "/* no PORTCULLIS_BRAND_PRIMARY_COLOR */\n".to_owned(),
    }
}

#[cfg(test)]
mod color_tests {
    use super::Color;

    #[test]
    fn contrast_of_white_on_a_colour_follows_wcag() {
        let of = |c: &str| Color::parse(c).expect(c).contrast_with_white();
        assert!((of("#000") - 21.0).abs() < 0.01);
        assert!((of("#ffffff") - 1.0).abs() < 0.01);
        // The default accent and a dark green pass; yellow does not.
        assert!(of("#2f5bd3") > 4.5, "{}", of("#2f5bd3"));
        assert!(of("#0a7f5a") > 4.5, "{}", of("#0a7f5a"));
        assert!(of("#fc0") < 2.0);
        assert!((of("#767676") - 4.54).abs() < 0.01);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_hex_in_short_or_long_form() {
        assert_eq!(Color::parse("#0A7").map(|c| c.0), Some("#0a7".into()));
        assert_eq!(
            Color::parse(" #12ab9F ").map(|c| c.0),
            Some("#12ab9f".into())
        );
        for bad in [
            "", "#", "12ab9f", "#12ab9", "#1234567", "#ggg", "red", "#fff;}", "#fff\n",
        ] {
            // "#fff\n" trims to a colour: the newline is not kept.
            if bad == "#fff\n" {
                assert_eq!(Color::parse(bad).map(|c| c.0), Some("#fff".into()));
                continue;
            }
            assert_eq!(Color::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn attack_css_injection_through_the_brand_colour_is_refused() {
        assert_eq!(Color::parse("#fff; } body { display: none"), None);
        assert_eq!(Color::parse("#fff</style>"), None);
    }

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temp dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("a theme file");
        }
        dir
    }

    #[test]
    fn a_theme_template_that_does_not_compile_names_its_file_and_line() {
        let dir = folder(&[(
            "login.html",
            "<h1>Sign in</h1>\n<p>fine</p>\n{% if ui.lang %}\n<p>no endif</p>\n{% for %}\n",
        )]);
        let err = Theme::load(dir.path()).expect_err("a broken template");
        let text = err.to_string();
        assert!(text.contains("login.html"), "{text}");
        assert!(text.contains("line 5"), "{text}");
    }

    #[test]
    fn an_unknown_file_in_the_theme_stops_the_start() {
        let dir = folder(&[("logn.html", "<p>typo</p>")]);
        let err = Theme::load(dir.path()).expect_err("an unknown template");
        assert!(matches!(err, ThemeError::Unknown { .. }), "{err}");
        assert!(err.to_string().contains("logn.html"), "{err}");
    }

    #[test]
    fn a_theme_renders_a_page_with_its_fields_messages_and_brand() {
        let dir = folder(&[
            (
                "base.html",
                "<html lang=\"{{ ui.lang }}\"><title>{{ ui.brand }}</title>{% block content %}{% endblock %}</html>",
            ),
            (
                "error.html",
                "{% extends \"base.html\" %}{% block content %}<h1>{{ title|tx }}</h1><p>{{ t(\"error-status\", status=status) }}</p>{{ message }}{% endblock %}",
            ),
            ("portcullis.css", "body { color: teal; }"),
        ]);
        let theme = Theme::load(dir.path()).expect("a theme");
        assert!(theme.has("error.html") && !theme.has("login.html"));
        assert_eq!(theme.stylesheet(), Some("body { color: teal; }"));
        let settings = crate::config::Settings {
            brand_name: "Acme ID".into(),
            ..Default::default()
        };
        let ui = PageUi {
            lang: Lang::De,
            settings: std::sync::Arc::new(settings),
        };
        let html = theme
            .render(
                "error.html",
                &serde_json::json!({"status": 404, "title": "Page not found", "message": "<b>x</b>"}),
                &ui,
            )
            .expect("rendered");
        assert!(html.contains("<html lang=\"de\">"), "{html}");
        assert!(html.contains("<title>Acme ID</title>"), "{html}");
        assert!(html.contains("<h1>Seite nicht gefunden</h1>"), "{html}");
        assert!(html.contains("Fehler 404"), "{html}");
        // Fields are escaped as in the built-in pages.
        assert!(
            html.contains("&lt;b&gt;x") && !html.contains("<b>"),
            "{html}"
        );
    }
}
