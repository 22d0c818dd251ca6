//! Checking JSON answers against an OpenAPI 3 spec: loading the YAML (with `serde-saphyr`) and
//! validating values with the `jsonschema` crate.
//!
//! OpenAPI 3.0 schemas are an extended subset of JSON Schema draft 4 (the spec is based on
//! draft "Wright 00", whose `exclusiveMinimum` is a boolean as in draft 4), so the schemas are
//! validated as draft 4 after a small conversion, [`json_schema`]:
//!
//! - `nullable: true` becomes `"null"` added to `type` (and to `enum`, when there is one); where
//!   the schema has no single `type` or combines others (`$ref`, `allOf`, ...), it becomes
//!   `anyOf: [{type: null}, <the schema>]`, which is exactly what OpenAPI means by it;
//! - `type: float` / `type: double` (not OpenAPI types, but the Clari spec writes `float`)
//!   become `type: number`;
//! - a boolean `required` inside a schema (the Clari spec has `required: false` on a property,
//!   a parameter's keyword misplaced) is dropped, as it constrains nothing;
//! - `$ref: '#/components/schemas/X'` is resolved by validating against one root document that
//!   carries the spec's (converted) `components.schemas` next to the schema being checked; only
//!   such local references are supported (no remote retrieval is compiled in).
//!
//! Formats are asserted: draft 4's (`date-time`, `email`, `hostname`, `ipv4`, `ipv6`, `uri`) and
//! OpenAPI's `date`; others (`int64`, `double`, `url`, ...) are annotations. Unknown properties
//! are allowed, as OpenAPI allows them by default. `required` is enforced.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{Draft, ValidationError};
use serde_json::{Map, Value, json};

/// Loads `specs/<file>` from the repository (the official specs, copied in with their
/// provenance in `specs/README.md`), or panics saying where it belongs.
pub fn load_spec(file: &str) -> Value {
    let path = spec_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the official spec is needed at {} ({e}); it is part of the repository (specs/README.md)",
            path.display()
        )
    });
    from_yaml(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// The repository's `specs/` folder.
pub fn spec_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs")
}

/// YAML to JSON, with non-string keys (status codes such as `200:`) as strings.
pub fn from_yaml(text: &str) -> Result<Value, serde_saphyr::Error> {
    serde_saphyr::from_str(text)
}

/// The JSON schema of the `status` answer of `method path`, resolved.
pub fn response_schema<'a>(spec: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let r = &spec["paths"][path][method]["responses"][status];
    let r = resolve(spec, r);
    let content = &r["content"];
    let media = content
        .as_object()
        .and_then(|m| m.values().next())
        .unwrap_or(&Value::Null);
    &media["schema"]
}

/// Validates `value` against `schema`, collecting errors as `path: what`.
pub fn check(spec: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(spec, schema, value, "$", &mut errors);
    errors
}

/// Follows a local `$ref` (`#/a/b/c`) in `root`, repeatedly; any other node is returned as is.
pub fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let mut node = root;
            for part in r.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            resolve(root, node)
        }
        None => schema,
    }
}

/// Validates `value` against `schema` (an OpenAPI schema from the spec `root`), pushing each
/// error as `path: what`, where `path` is `path` (the name of `value`, e.g. `$`) followed by
/// `.key` and `[index]` down to the offending value. A missing required property is reported at
/// the path it would have (`$.calls[0].id: required property is missing`). A schema the
/// validator cannot compile is reported as one error at `path`.
pub fn validate(root: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let document = json_schema(root, schema);
    let validator = match jsonschema::options()
        .with_draft(Draft::Draft4)
        .should_validate_formats(true)
        .with_format("date", |s: &str| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        })
        .build(&document)
    {
        Ok(v) => v,
        Err(e) => {
            errors.push(format!("{path}: the schema does not compile: {e}"));
            return;
        }
    };
    for error in validator.iter_errors(value) {
        errors.push(describe(&error, path));
    }
}

/// The JSON Schema (draft 4) document that checks a value against the OpenAPI `schema` of the
/// spec `root`: the converted schema, with the converted `components.schemas` beside it so
/// that `#/components/schemas/X` references resolve.
pub fn json_schema(root: &Value, schema: &Value) -> Value {
    let schemas: Map<String, Value> = root["components"]["schemas"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), convert(v))).collect())
        .unwrap_or_default();
    json!({
        "allOf": [convert(schema)],
        "components": { "schemas": schemas },
    })
}

/// One OpenAPI schema to JSON Schema draft 4 (see the module doc).
fn convert(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::with_capacity(obj.len());
    for (k, v) in obj {
        let v = match k.as_str() {
            "properties" | "patternProperties" | "definitions" => match v.as_object() {
                Some(m) => Value::Object(m.iter().map(|(k, s)| (k.clone(), convert(s))).collect()),
                None => v.clone(),
            },
            "allOf" | "anyOf" | "oneOf" => match v.as_array() {
                Some(a) => Value::Array(a.iter().map(convert).collect()),
                None => v.clone(),
            },
            "items" => match v.as_array() {
                Some(a) => Value::Array(a.iter().map(convert).collect()),
                None => convert(v),
            },
            "additionalProperties" | "additionalItems" | "not" => convert(v),
            "type" => match v.as_str() {
                Some("float" | "double") => Value::from("number"),
                _ => v.clone(),
            },
            "required" if !v.is_array() => continue,
            "nullable" => continue,
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    if obj.get("nullable") != Some(&Value::Bool(true)) {
        return Value::Object(out);
    }
    let combined = ["$ref", "allOf", "anyOf", "oneOf", "not"]
        .iter()
        .any(|k| out.contains_key(*k));
    match out.get("type").and_then(Value::as_str) {
        Some(ty) if !combined => {
            let ty = ty.to_string();
            out.insert("type".into(), json!([ty, "null"]));
            if let Some(options) = out.get_mut("enum").and_then(Value::as_array_mut)
                && !options.contains(&Value::Null)
            {
                options.push(Value::Null);
            }
            Value::Object(out)
        }
        _ => json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] }),
    }
}

/// `path: what` for one error.
fn describe(error: &ValidationError<'_>, path: &str) -> String {
    let at = instance_path(error, path);
    let value = error.instance();
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            format!("{at}.{name}: required property is missing")
        }
        ValidationErrorKind::Type { kind } => {
            let want = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => format!("{set:?}"),
            };
            format!("{at}: {} is not of type {want}", short(value))
        }
        ValidationErrorKind::Enum { .. } => {
            format!("{at}: {} is not one of the enum", short(value))
        }
        ValidationErrorKind::Format { format } => {
            format!("{at}: {} is not a {format}", short(value))
        }
        ValidationErrorKind::AnyOf { context } => {
            format!("{at}: matches none of anyOf ({})", branches(context, path))
        }
        ValidationErrorKind::OneOfNotValid { context } => {
            format!("{at}: matches none of oneOf ({})", branches(context, path))
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            format!("{at}: matches more than one of oneOf")
        }
        _ => format!("{at}: {}", error.masked()),
    }
}

/// Why each branch of an `anyOf`/`oneOf` failed, leaving out the `null` branch that
/// `nullable` adds (a non-null value fails it, which says nothing).
fn branches(context: &[Vec<ValidationError<'static>>], path: &str) -> String {
    context
        .iter()
        .filter(|errors| {
            !matches!(
                errors.as_slice(),
                [e] if matches!(
                    e.kind(),
                    ValidationErrorKind::Type { kind: TypeKind::Single(t) }
                        if t.to_string() == "null"
                )
            )
        })
        .map(|errors| {
            errors
                .iter()
                .map(|e| describe(e, path))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The instance location of `error` as `path.key[index]`.
fn instance_path(error: &ValidationError<'_>, path: &str) -> String {
    let mut at = path.to_string();
    for segment in error.instance_path().segments() {
        match segment {
            LocationSegment::Property(p) => {
                at.push('.');
                at.push_str(&p);
            }
            LocationSegment::Index(i) => at.push_str(&format!("[{i}]")),
        }
    }
    at
}

fn short(v: &Value) -> String {
    v.to_string().chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        from_yaml(
            r##"
openapi: 3.0.1
paths:
  /things:
    get:
      responses:
        200:
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Things"
components:
  schemas:
    Things:
      type: object
      required: [things]
      properties:
        things:
          type: array
          items:
            $ref: "#/components/schemas/Thing"
    Thing:
      type: object
      required: [id, kind]
      properties:
        id:
          type: string
        kind:
          $ref: "#/components/schemas/Kind"
        at:
          type: string
          format: date-time
        score:
          type: float
        note:
          type: string
          nullable: true
        parent:
          nullable: true
          allOf:
            - $ref: "#/components/schemas/Thing"
        optional:
          type: object
          required: false
    Kind:
      type: string
      enum: [A, B]
"##,
        )
        .unwrap()
    }

    fn errors(value: Value) -> Vec<String> {
        let spec = spec();
        let schema = response_schema(&spec, "/things", "get", "200");
        assert!(!schema.is_null());
        check(&spec, schema, &value)
    }

    #[test]
    fn the_official_specs_load_and_every_schema_compiles() {
        for (file, path, method) in [
            ("clari-copilot-openapi.yml", "/calls", "get"),
            ("glean-indexing-openapi.yaml", "/getdocumentcount", "post"),
        ] {
            let spec = load_spec(file);
            assert!(
                response_schema(&spec, path, method, "200").is_object(),
                "{file}"
            );
            let schemas = spec["components"]["schemas"].as_object().unwrap();
            assert!(schemas.len() > 10, "{file}");
            for name in schemas.keys() {
                let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
                let mut e = Vec::new();
                // Any value: only that the schema compiles matters here.
                validate(&spec, &schema, &json!({}), "$", &mut e);
                assert!(
                    !e.iter().any(|e| e.contains("does not compile")),
                    "{file} {name}: {e:?}"
                );
            }
        }
    }

    #[test]
    fn yaml_status_codes_become_string_keys() {
        let spec = spec();
        assert!(spec["paths"]["/things"]["get"]["responses"]["200"].is_object());
    }

    #[test]
    fn a_valid_answer_has_no_errors() {
        let ok = json!({"things": [
            {"id": "1", "kind": "A", "at": "2026-01-02T03:04:05Z", "score": 1.5, "note": null,
             "parent": null, "extra": true},
            {"id": "2", "kind": "B", "note": "n", "score": 2,
             "parent": {"id": "1", "kind": "A"}},
        ]});
        assert_eq!(errors(ok), Vec::<String>::new());
    }

    #[test]
    fn wrong_types_are_reported_at_their_path() {
        let e = errors(json!({"things": [{"id": 7, "kind": "A", "score": "high"}]}));
        assert!(
            e.iter()
                .any(|e| e.starts_with("$.things[0].id: 7 is not of type string")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|e| e.starts_with("$.things[0].score:")),
            "{e:?}"
        );
        assert_eq!(errors(json!({"things": {}})).len(), 1);
    }

    #[test]
    fn missing_required_fields_are_reported_by_name() {
        let e = errors(json!({"things": [{"id": "1"}]}));
        assert_eq!(e, vec!["$.things[0].kind: required property is missing"]);
        let e = errors(json!({}));
        assert_eq!(e, vec!["$.things: required property is missing"]);
    }

    #[test]
    fn enums_formats_and_nullable_are_checked() {
        let e = errors(json!({"things": [{"id": "1", "kind": "C", "at": "yesterday"}]}));
        assert!(
            e.iter()
                .any(|e| e == "$.things[0].kind: \"C\" is not one of the enum"),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|e| e == "$.things[0].at: \"yesterday\" is not a date-time"),
            "{e:?}"
        );
        // Not nullable: null is a wrong type.
        let e = errors(json!({"things": [{"id": null, "kind": "A"}]}));
        assert_eq!(e, vec!["$.things[0].id: null is not of type string"]);
        // Nullable through allOf: a non-null value is still checked, down the reference.
        let e = errors(json!({"things": [{"id": "1", "kind": "A", "parent": {"id": "2"}}]}));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("$.things[0].parent: matches none of anyOf"),
            "{e:?}"
        );
        assert!(
            e[0].contains("$.things[0].parent.kind: required property is missing"),
            "{e:?}"
        );
    }

    #[test]
    fn the_path_prefix_is_the_callers() {
        let spec = spec();
        let mut e = Vec::new();
        let schema = json!({"$ref": "#/components/schemas/Thing"});
        validate(
            &spec,
            &schema,
            &json!({"id": 1, "kind": "A"}),
            "body",
            &mut e,
        );
        assert_eq!(e, vec!["body.id: 1 is not of type string"]);
    }
}
