//! One response page: `{"data": [model, ...], "links": {"next": url|null}}`.
//! Models are kept as borrowed raw JSON slices; `mapping` reads their fields.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Why a body is not a registry page. `Syntax` is broken JSON; the rest is valid JSON
/// of the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("the body is not valid JSON: {0}")]
    Syntax(String),
    #[error("the body is JSON but not a registry page: {0}")]
    Shape(String),
}

#[derive(Debug)]
pub struct Page<'a> {
    pub models: Vec<&'a RawValue>,
    /// `links.next`, when the API says there is another page.
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct PageDoc<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    links: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<serde_json::Value>,
}

fn classify(e: serde_json::Error) -> ShapeError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ShapeError::Syntax(e.to_string()),
        Category::Data => ShapeError::Shape(e.to_string()),
    }
}

pub fn parse_page(body: &str) -> Result<Page<'_>, ShapeError> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        // Tell broken JSON (an HTML error page, a truncated body) from JSON of another shape.
        return Err(match serde_json::from_str::<serde::de::IgnoredAny>(body) {
            Ok(_) => ShapeError::Shape("expected an object with a \"data\" array".into()),
            Err(e) => classify(e),
        });
    }
    let doc: PageDoc<'_> = serde_json::from_str(body).map_err(classify)?;
    let data = doc
        .data
        .ok_or_else(|| ShapeError::Shape("no \"data\" key in the response".into()))?;
    let models: Vec<&RawValue> = serde_json::from_str(data.get()).map_err(|_| {
        let kind = match data.get().trim_start().as_bytes().first() {
            Some(b'{') => "an object",
            Some(b'"') => "a string",
            Some(b'n') => "null",
            _ => "not an array",
        };
        ShapeError::Shape(format!("\"data\" is {kind}, expected an array of models"))
    })?;
    let next = match doc.links {
        None => None,
        Some(raw) => match serde_json::from_str::<Links>(raw.get()) {
            Ok(Links {
                next: Some(serde_json::Value::String(s)),
            }) if !s.is_empty() => Some(s),
            Ok(Links {
                next: None | Some(serde_json::Value::Null),
            }) => None,
            Ok(_) | Err(_) => {
                return Err(ShapeError::Shape(
                    "\"links.next\" is neither a URL nor null".into(),
                ))
            }
        },
    };
    Ok(Page { models, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_shapes() {
        let p =
            parse_page(r#"{"data":[{"id":"a/b"},{"id":"c/d"}],"links":{"next":"http://x/p2"}}"#)
                .unwrap();
        assert_eq!(p.models.len(), 2);
        assert_eq!(p.next.as_deref(), Some("http://x/p2"));
        let p = parse_page(r#"{"data":[],"links":{"next":null}}"#).unwrap();
        assert!(p.models.is_empty() && p.next.is_none());

        assert!(matches!(
            parse_page("<html>502</html>"),
            Err(ShapeError::Syntax(_))
        ));
        assert!(matches!(
            parse_page(r#"{"data":[{"id":"a/b"}"#),
            Err(ShapeError::Syntax(_))
        ));
        assert!(matches!(parse_page("[1,2]"), Err(ShapeError::Shape(_))));
        let e = parse_page(r#"{"data":{"id":"a/b"}}"#).unwrap_err();
        assert_eq!(
            e,
            ShapeError::Shape("\"data\" is an object, expected an array of models".into())
        );
        assert!(matches!(
            parse_page(r#"{"error":{"message":"x"}}"#),
            Err(ShapeError::Shape(_))
        ));
        assert!(matches!(
            parse_page(r#"{"data":[],"links":{"next":5}}"#),
            Err(ShapeError::Shape(_))
        ));
    }
}
