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
    #[serde(borrow, default, deserialize_with = "data_field")]
    data: Option<Data<'a>>,
    #[serde(borrow, default)]
    links: Option<&'a RawValue>,
}

/// What `"data"` holds: the models, or what it is instead of an array.
enum Data<'a> {
    Models(Vec<&'a RawValue>),
    Not(&'static str),
}

/// Reads `"data"` in the same pass as the rest of the body (a 49 MB body is scanned once,
/// not once for the page and again for its array).
fn data_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Data<'de>>, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Data<'de>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an array of models")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Data<'de>, A::Error> {
            let mut models = Vec::with_capacity(seq.size_hint().unwrap_or(0).max(512));
            while let Some(m) = seq.next_element::<&'de RawValue>()? {
                models.push(m);
            }
            Ok(Data::Models(models))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Data<'de>, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(Data::Not("an object"))
        }
        fn visit_str<E>(self, _: &str) -> Result<Data<'de>, E> {
            Ok(Data::Not("a string"))
        }
        fn visit_unit<E>(self) -> Result<Data<'de>, E> {
            Ok(Data::Not("null"))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Data<'de>, E> {
            Ok(Data::Not("not an array"))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Data<'de>, E> {
            Ok(Data::Not("not an array"))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Data<'de>, E> {
            Ok(Data::Not("not an array"))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Data<'de>, E> {
            Ok(Data::Not("not an array"))
        }
    }
    d.deserialize_any(Visit).map(Some)
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
    let models = match doc.data {
        None => return Err(ShapeError::Shape("no \"data\" key in the response".into())),
        Some(Data::Not(kind)) => {
            return Err(ShapeError::Shape(format!(
                "\"data\" is {kind}, expected an array of models"
            )))
        }
        Some(Data::Models(models)) => models,
    };
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
        for (body, kind) in [
            (r#"{"data":null}"#, "null"),
            (r#"{"data":"a/b"}"#, "a string"),
            (r#"{"data":5}"#, "not an array"),
            (r#"{"data":true,"links":{}}"#, "not an array"),
        ] {
            assert_eq!(
                parse_page(body).unwrap_err(),
                ShapeError::Shape(format!("\"data\" is {kind}, expected an array of models"))
            );
        }
        // Broken JSON inside "data" is broken JSON, whatever "data" holds.
        assert!(matches!(
            parse_page(r#"{"data":{"id":"a/b",}}"#),
            Err(ShapeError::Syntax(_))
        ));
        assert!(matches!(
            parse_page(r#"{"data":[{"id":"a/b"},{"id":}]}"#),
            Err(ShapeError::Syntax(_))
        ));
        assert!(matches!(
            parse_page(r#"{"data":[{"id":"a/b"}],"data":[]}"#),
            Err(ShapeError::Shape(_))
        ));
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
