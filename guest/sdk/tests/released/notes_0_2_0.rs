// The example connector of connector-sdk 0.2.0, frozen: what `harness new notes` wrote with that
// release (host-harness/templates/connector), verbatim but for the recording's path. The test
// `released_examples.rs` builds it and runs its tests against this SDK: a later release that
// fails to build or pass it has broken a connector written against 0.2.0 (see the versioning
// policy in the SDK's README). Never edit it to follow the SDK; freeze the next release's
// example beside it.

//! Notes: a connector:platform connector, scaffolded by `harness new`.
//!
//! The source here is a small notes API: `GET /notes?page=N&limit=L` lists notes,
//! `GET /notes/{id}` answers one, `GET /users` lists the people. Replace the wire types and the
//! paths with your source's and keep the shape: list, fetch, permissions, users.

use connector_sdk::prelude::*;
use connector_sdk::{http, permissions, time};
use serde::Deserialize;
use serde::de::DeserializeOwned;

const UPSTREAM: &str = "api";
const OBJECT_TYPE: &str = "note";
/// The cursor's format: bump it when the cursor's type changes.
const CURSOR_VERSION: u32 = 1;

pub struct Notes {
    page_size: u32,
}

#[derive(Deserialize)]
struct NotePage {
    notes: Vec<Listed>,
    has_more: bool,
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    updated_at: String,
    #[serde(default)]
    private: bool,
}

#[derive(Deserialize)]
struct Note {
    id: String,
    title: String,
    body: String,
    url: String,
    updated_at: String,
    author: Option<Author>,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Deserialize)]
struct Author {
    name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct Users {
    users: Vec<WireUser>,
}

#[derive(Deserialize)]
struct WireUser {
    id: String,
    email: String,
    name: String,
}

/// One GET, its status checked and its JSON decoded; errors name `what` failed.
fn get<T: DeserializeOwned>(ctx: &Ctx, request: Request, what: &str) -> Result<T, Error> {
    ctx.http()
        .send(&request)?
        .error_for_status(what)?
        .json(what)
}

impl Connector for Notes {
    fn new(ctx: &Ctx) -> Result<Self, Error> {
        let page_size = ctx.setting_or("page_size", 50, "a whole number of notes per page")?;
        Ok(Notes { page_size })
    }

    fn describe() -> ConnectorInfo {
        ConnectorInfoBuilder::new("notes", "Notes", env!("CARGO_PKG_VERSION"))
            .url_pattern("https://notes\\.example/n/.*")
            .upstream(UPSTREAM, "https://api.notes.example", &["Authorization"])
            .object_type(ObjectTypeBuilder::new(OBJECT_TYPE, "Note").facet(
                "author",
                "Author",
                PropertyKind::Text,
            ))
            .build()
    }

    fn check(&self, ctx: &Ctx) -> Result<(), Error> {
        get::<Users>(
            ctx,
            Request::get(UPSTREAM, "/users"),
            "checking the connection",
        )
        .map(|_| ())
    }

    fn list_changes(
        &self,
        ctx: &Ctx,
        _mode: CrawlMode,
        cursor: Option<&str>,
    ) -> Result<ChangePage, Error> {
        let page: u32 = cursor::decode(CURSOR_VERSION, cursor)?.unwrap_or(0);
        let request = Request::get(UPSTREAM, "/notes")
            .query("page", page)
            .query("limit", self.page_size);
        let listed: NotePage = get(ctx, request, "listing notes")?;
        let changes = listed.notes.into_iter().map(|n| {
            let visibility = if n.private {
                Visibility::Restricted
            } else {
                Visibility::Public
            };
            let change = Change::ready(n.id, visibility);
            match time::parse_iso8601_ms(&n.updated_at) {
                Some(ms) => change.modified_at_ms(ms),
                None => change,
            }
        });
        let changes = changes.collect();
        if listed.has_more {
            Ok(ChangePage::more(
                changes,
                cursor::encode(CURSOR_VERSION, &(page + 1))?,
            ))
        } else {
            // This API has no change feed: the next crawl starts from the first page again.
            Ok(ChangePage::done(
                changes,
                cursor::encode(CURSOR_VERSION, &0u32)?,
            ))
        }
    }

    fn fetch_item(&self, ctx: &Ctx, id: &str, visibility: Visibility) -> Result<Item, Error> {
        let path = format!("/notes/{}", http::encode_component(id));
        let note: Note = get(ctx, Request::get(UPSTREAM, &path), "fetching a note")?;
        let access = match visibility {
            Visibility::Restricted => AccessFacts::restricted_to(note.members),
            other => AccessFacts::new(other),
        };
        let mut item = Item::new(note.id, OBJECT_TYPE, note.title, note.url)
            .body(note.body)
            .access(access);
        if let Some(ms) = time::parse_iso8601_ms(&note.updated_at) {
            item = item.updated_at_ms(ms);
        }
        if let Some(author) = note.author {
            if let Some(name) = &author.name {
                item = item.property("author", PropertyValue::Text(name.clone()));
            }
            item = item.author(Person::new(author.name, author.email));
        }
        Ok(item)
    }

    fn map_permissions(facts: &AccessFacts) -> Permissions {
        permissions::public_or_members(facts)
    }

    fn list_users(&self, ctx: &Ctx, _cursor: Option<&str>) -> Result<UserPage, Error> {
        let answer: Users = get(ctx, Request::get(UPSTREAM, "/users"), "listing users")?;
        let users = answer
            .users
            .into_iter()
            .map(|u| User::new(u.id, u.email, u.name, true));
        Ok(UserPage::new(users.collect(), None))
    }
}

connector_sdk::register_connector!(Notes);

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::testkit::TestHost;
    use connector_sdk::testkit::tape::Tape;
    use serde_json::json;

    /// Lists and fetches everything, as a full crawl would.
    fn crawl(host: &TestHost) -> Vec<(Item, Permissions)> {
        let ctx = host.ctx();
        let connector = Notes::new(&ctx).unwrap();
        let mut cursor: Option<String> = None;
        let mut items = Vec::new();
        loop {
            let page = connector
                .list_changes(&ctx, CrawlMode::Full, cursor.as_deref())
                .unwrap();
            for change in page.changes {
                if let connector_sdk::ChangeState::Ready(visibility) = change.state {
                    let item = connector.fetch_item(&ctx, &change.id, visibility).unwrap();
                    let permissions = Notes::map_permissions(&item.access);
                    items.push((item, permissions));
                }
            }
            match page.next {
                connector_sdk::ListingNext::More(next) => cursor = Some(next),
                connector_sdk::ListingNext::Done(_) => return items,
            }
        }
    }

    #[test]
    fn a_private_note_is_visible_to_its_members_only() {
        let listing = json!({
            "notes": [{"id": "n9", "updated_at": "2026-01-01T09:00:00Z", "private": true}],
            "has_more": false,
        });
        let note = json!({
            "id": "n9",
            "title": "Plan",
            "body": "Text",
            "url": "https://notes.example/n/n9",
            "updated_at": "2026-01-01T09:00:00Z",
            "members": ["Ann@Example.com"],
        });
        let host = TestHost::new()
            .setting("page_size", "10")
            .on(
                Method::Get,
                UPSTREAM,
                "/notes",
                Response::of_json(200, &listing),
            )
            .on(
                Method::Get,
                UPSTREAM,
                "/notes/n9",
                Response::of_json(200, &note),
            );
        let items = crawl(&host);
        assert_eq!(items.len(), 1);
        assert!(matches!(&items[0].1, Permissions::Users(u) if u == &["ann@example.com"]));
        assert_eq!(
            host.requests()[0].path_and_query(),
            "/notes?page=0&limit=10"
        );
    }

    #[test]
    fn the_shipped_recording_replays() {
        let tape = Tape::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/released/notes_0_2_0.tape" // the one change: where the recording is kept
        )))
        .unwrap();
        let items = crawl(&TestHost::replaying(tape));
        assert_eq!(items.len(), 2);
        assert!(matches!(items[0].1, Permissions::AllUsers));
        assert!(matches!(&items[1].1, Permissions::Users(u) if u == &["ann@example.com"]));
    }
}
