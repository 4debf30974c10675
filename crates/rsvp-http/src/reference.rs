//! `GET /docs`: a readable API reference rendered on the server from the
//! OpenAPI document — every operation with its parameters, request fields,
//! responses and an example, every schema with its fields. No JavaScript, no
//! CDN: one HTML page, the same document `/openapi.json` serves.

use std::sync::OnceLock;

use minijinja::value::Serde;
use minijinja::{Environment, Value as Template, context};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// How deep examples and field tables follow `$ref`s (schemas nest at most
/// three levels; recursion is cut here rather than looping).
const MAX_DEPTH: usize = 4;

/// One row of a field table.
#[derive(Debug, Serialize)]
struct Field {
    name: String,
    kind: String,
    required: bool,
    description: String,
}

#[derive(Debug, Serialize)]
struct Parameter {
    name: String,
    location: String,
    kind: String,
    required: bool,
    description: String,
}

#[derive(Debug, Serialize)]
struct Response {
    status: String,
    description: String,
    schema: String,
    headers: Vec<String>,
    example: Option<String>,
}

#[derive(Debug, Serialize)]
struct Operation {
    anchor: String,
    method: String,
    path: String,
    tag: String,
    description: String,
    authenticated: bool,
    parameters: Vec<Parameter>,
    body_schema: Option<String>,
    body_fields: Vec<Field>,
    body_example: Option<String>,
    responses: Vec<Response>,
}

#[derive(Debug, Serialize)]
struct Schema {
    name: String,
    description: String,
    fields: Vec<Field>,
    values: Vec<String>,
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..MAX_DEPTH {
        match current.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap_or_default();
                match doc.pointer(&format!("/components/schemas/{name}")) {
                    Some(target) => current = target,
                    None => return current,
                }
            }
            None => return current,
        }
    }
    current
}

fn ref_name(schema: &Value) -> Option<String> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
}

/// A short type for people: `string (date-time)`, `InvitationBody`, `array of string`, `... or null`.
fn type_name(schema: &Value) -> String {
    if let Some(name) = ref_name(schema) {
        return name;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            return options.iter().map(type_name).collect::<Vec<_>>().join(" or ");
        }
    }
    let base = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        _ if schema.get("enum").is_some() => "string".to_owned(),
        _ => "any".to_owned(),
    };
    let base = if base.starts_with("array") {
        let items = schema.get("items").map_or_else(|| "any".to_owned(), type_name);
        base.replacen("array", &format!("array of {items}"), 1)
    } else {
        base
    };
    match schema.get("format").and_then(Value::as_str) {
        Some(format) => format!("{base} ({format})"),
        None => base,
    }
}

fn description_of(schema: &Value) -> String {
    let own = schema.get("description").and_then(Value::as_str);
    let nested = ["oneOf", "anyOf"].iter().find_map(|key| {
        schema.get(*key).and_then(Value::as_array).and_then(|options| {
            options
                .iter()
                .find_map(|o| o.get("description").and_then(Value::as_str))
        })
    });
    own.or(nested).unwrap_or_default().replace('\n', " ")
}

/// The properties of an object schema (none for another schema).
fn properties(schema: &Value) -> impl Iterator<Item = (&String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn fields(doc: &Value, schema: &Value) -> Vec<Field> {
    let schema = resolve(doc, schema);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    properties(schema)
        .map(|(name, property)| Field {
            name: name.clone(),
            kind: type_name(property),
            required: required.contains(&name.as_str()),
            description: description_of(property),
        })
        .collect()
}

/// A plausible value for `schema`: its own example, else one made from its type.
fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
    if let Some(example) = schema
        .get("example")
        .or_else(|| schema.get("examples").and_then(|e| e.get(0)))
    {
        return example.clone();
    }
    if depth >= MAX_DEPTH {
        return Value::Null;
    }
    if schema.get("$ref").is_some() {
        let target = resolve(doc, schema);
        // A chain of references that never ends in a schema has no example.
        return if target.get("$ref").is_some() {
            Value::Null
        } else {
            example(doc, target, depth)
        };
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let chosen = options
                .iter()
                .find(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                .or_else(|| options.first());
            return chosen.map_or(Value::Null, |o| example(doc, o, depth));
        }
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "object" => Value::Object(
            properties(schema)
                .map(|(name, property)| (name.clone(), example(doc, property, depth + 1)))
                .collect::<Map<String, Value>>(),
        ),
        "array" => json!([schema.get("items").map_or(Value::Null, |i| example(doc, i, depth + 1))]),
        "string" => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2026-11-30T10:00:00Z"),
            Some("uuid") => json!("0193a5b2-7c1e-7d40-9a55-3f1c2b8e4d21"),
            Some("email") => json!("bob@globex.test"),
            _ => json!("string"),
        },
        "integer" => schema.get("minimum").cloned().unwrap_or(json!(1)),
        "number" => json!(1.5),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn content_schema(holder: &Value) -> Option<(String, Value)> {
    let content = holder.get("content")?.as_object()?;
    let (_, media) = content.iter().next()?;
    let schema = media.get("schema")?;
    Some((type_name(schema), schema.clone()))
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let parameters = operation
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| Parameter {
                    name: p.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    location: p.get("in").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    kind: p.get("schema").map_or_else(String::new, type_name),
                    required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    description: description_of(p),
                })
                .collect();
            let body = operation.get("requestBody").and_then(content_schema);
            let responses = operation
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(status, response)| {
                    let schema = content_schema(response);
                    let success = status.starts_with('2');
                    Response {
                        status: status.clone(),
                        description: response
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        schema: schema.as_ref().map(|(name, _)| name.clone()).unwrap_or_default(),
                        headers: response
                            .get("headers")
                            .and_then(Value::as_object)
                            .map(|h| h.keys().cloned().collect())
                            .unwrap_or_default(),
                        example: schema
                            .filter(|_| success)
                            .map(|(_, s)| example(doc, &s, 0))
                            .filter(|e| e.is_object() || e.is_array())
                            .map(|e| pretty(&e)),
                    }
                })
                .collect();
            // Handlers' first doc line is often just "`METHOD /path`": the
            // heading says that already.
            let summary = operation
                .get("summary")
                .and_then(Value::as_str)
                .filter(|s| !s.trim_start().starts_with('`'));
            let description = [summary, operation.get("description").and_then(Value::as_str)]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            out.push(Operation {
                anchor: format!("{method}-{path}")
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect(),
                method: method.to_uppercase(),
                path: path.clone(),
                tag: operation
                    .get("tags")
                    .and_then(|t| t.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or("other")
                    .to_owned(),
                description,
                authenticated: operation.get("security").is_some(),
                parameters,
                body_fields: body.as_ref().map(|(_, s)| fields(doc, s)).unwrap_or_default(),
                body_example: body.as_ref().map(|(_, s)| pretty(&example(doc, s, 0))),
                body_schema: body.map(|(name, _)| name),
                responses,
            });
        }
    }
    out
}

fn schemas(doc: &Value) -> Vec<Schema> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, schema)| Schema {
            name: name.clone(),
            description: description_of(schema),
            fields: fields(doc, schema),
            values: schema
                .get("enum")
                .and_then(Value::as_array)
                .map(|values| values.iter().map(|v| v.to_string()).collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// Escapes `text` and turns Markdown `code spans` into `<code>` (the only
/// Markdown the descriptions use).
fn inline_markdown(text: &str) -> Template {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let mut html = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            html.push_str("<code>");
            html.push_str(part);
            html.push_str("</code>");
        } else {
            html.push_str(part);
        }
    }
    Template::from_safe_string(html)
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_filter("md", |text: String| inline_markdown(&text));
        env.add_template("reference.html", include_str!("../templates/reference.html"))
            .unwrap_or_else(|e| panic!("the built-in reference.html template is invalid: {e}"));
        env
    })
}

/// The reference page of `document` (an OpenAPI 3.1 document as JSON).
pub fn render(document: &str) -> String {
    let doc: Value = serde_json::from_str(document).unwrap_or(Value::Null);
    let title = doc.pointer("/info/title").and_then(Value::as_str).unwrap_or("rsvp");
    let version = doc.pointer("/info/version").and_then(Value::as_str).unwrap_or_default();
    environment()
        .get_template("reference.html")
        .and_then(|t| {
            t.render(context! {
                title => title,
                version => version,
                description => doc.pointer("/info/description").and_then(Value::as_str).unwrap_or_default(),
                operations => Template::from(Serde(operations(&doc))),
                schemas => Template::from(Serde(schemas(&doc))),
            })
        })
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "API reference failed to render");
            "<!doctype html><title>rsvp API reference</title><p>See <a href=\"openapi.json\">openapi.json</a>.</p>"
                .to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_follow_refs_nullable_types_and_formats() {
        let doc = json!({"components": {"schemas": {
            "Thing": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"},
                "at": {"type": ["string", "null"], "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "kind": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Kind"}]},
                "loop": {"$ref": "#/components/schemas/Thing"}
            }},
            "Kind": {"type": "string", "enum": ["a", "b"]}
        }}});
        let value = example(&doc, &json!({"$ref": "#/components/schemas/Thing"}), 0);
        assert_eq!(value["at"], "2026-11-30T10:00:00Z");
        assert_eq!(value["tags"], json!(["string"]));
        assert_eq!(value["kind"], "a");
        assert!(value["id"].as_str().is_some_and(|s| s.len() == 36));
        assert_eq!(type_name(&json!({"type": ["string", "null"]})), "string or null");
    }

    #[test]
    fn code_spans_become_code_and_everything_else_is_escaped() {
        let html = inline_markdown("Send `<b>` & `x`").to_string();
        assert_eq!(html, "Send <code>&lt;b&gt;</code> &amp; <code>x</code>");
    }
}
