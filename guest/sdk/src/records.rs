//! Constructors and builders for the contract's records. The records are the WIT types, with
//! public fields; a connector that builds them through these functions keeps compiling when a
//! contract minor version adds a field (contract 0.2.0 added `Change::fingerprint`, which broke
//! every `Change { .. }` literal). Times are taken in epoch milliseconds everywhere here; the
//! constructors convert where the contract wants seconds.

use crate::{
    AccessFacts, Change, ChangePage, ChangeState, Item, ListingNext, Person, Property,
    PropertyValue, User, UserPage, Visibility,
};

impl Change {
    /// An item the host should fetch, with the visibility the listing established.
    pub fn ready(id: impl Into<String>, visibility: Visibility) -> Self {
        Change {
            id: id.into(),
            modified_at: None,
            state: ChangeState::Ready(visibility),
            fingerprint: None,
        }
    }

    /// An item not eligible now; `reason` is counted in the crawl report (keep ids out of it).
    pub fn skipped(id: impl Into<String>, reason: impl Into<String>) -> Self {
        Change {
            id: id.into(),
            modified_at: None,
            state: ChangeState::Skipped(reason.into()),
            fingerprint: None,
        }
    }

    /// When the source last changed the item, in epoch milliseconds.
    #[must_use]
    pub fn modified_at_ms(mut self, ms: i64) -> Self {
        self.modified_at = Some(ms);
        self
    }

    /// A digest of what the listing says about the item: equal fingerprints let the host skip
    /// the fetch.
    #[must_use]
    pub fn fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(fingerprint.into());
        self
    }
}

impl ChangePage {
    /// A page with more to come: the host calls `list-changes` again with `cursor`.
    pub fn more(changes: Vec<Change>, cursor: impl Into<String>) -> Self {
        ChangePage {
            changes,
            next: ListingNext::More(cursor.into()),
        }
    }

    /// The last page; `cursor` is where the next incremental crawl starts.
    pub fn done(changes: Vec<Change>, cursor: impl Into<String>) -> Self {
        ChangePage {
            changes,
            next: ListingNext::Done(cursor.into()),
        }
    }
}

impl Item {
    /// An item with its required fields; everything else starts empty, and access facts start
    /// as `unknown` visibility, which grants nobody until the connector says otherwise.
    pub fn new(
        id: impl Into<String>,
        object_type: impl Into<String>,
        title: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        Item {
            id: id.into(),
            object_type: object_type.into(),
            title: title.into(),
            url: url.into(),
            body: String::new(),
            summary: None,
            author: None,
            created_at: None,
            updated_at: None,
            container: None,
            tags: Vec::new(),
            properties: Vec::new(),
            access: AccessFacts::new(Visibility::Unknown),
        }
    }

    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    #[must_use]
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    #[must_use]
    pub fn author(mut self, author: Person) -> Self {
        self.author = Some(author);
        self
    }

    /// Creation time in epoch milliseconds (stored as the contract's seconds).
    #[must_use]
    pub fn created_at_ms(mut self, ms: i64) -> Self {
        self.created_at = Some(ms.div_euclid(1000));
        self
    }

    /// Last update in epoch milliseconds (stored as the contract's seconds).
    #[must_use]
    pub fn updated_at_ms(mut self, ms: i64) -> Self {
        self.updated_at = Some(ms.div_euclid(1000));
        self
    }

    #[must_use]
    pub fn container(mut self, container: impl Into<String>) -> Self {
        self.container = Some(container.into());
        self
    }

    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    #[must_use]
    pub fn property(mut self, name: impl Into<String>, value: PropertyValue) -> Self {
        self.properties.push(Property {
            name: name.into(),
            value,
        });
        self
    }

    #[must_use]
    pub fn access(mut self, access: AccessFacts) -> Self {
        self.access = access;
        self
    }
}

impl PropertyValue {
    /// A date property from epoch milliseconds (the contract stores seconds).
    pub fn date_ms(ms: i64) -> Self {
        PropertyValue::Date(ms.div_euclid(1000))
    }
}

impl AccessFacts {
    /// Facts with `visibility` and no member list.
    pub fn new(visibility: Visibility) -> Self {
        AccessFacts {
            visibility,
            members: None,
        }
    }

    /// Visible only to these people (by email).
    pub fn restricted_to(members: impl IntoIterator<Item = impl Into<String>>) -> Self {
        AccessFacts {
            visibility: Visibility::Restricted,
            members: Some(members.into_iter().map(Into::into).collect()),
        }
    }
}

impl Person {
    pub fn new(name: Option<String>, email: Option<String>) -> Self {
        Person { email, name }
    }
}

impl User {
    pub fn new(
        id: impl Into<String>,
        email: impl Into<String>,
        name: impl Into<String>,
        active: bool,
    ) -> Self {
        User {
            id: id.into(),
            email: email.into(),
            name: name.into(),
            active,
        }
    }
}

impl UserPage {
    /// A page of users; `next_cursor` is `None` on the last page.
    pub fn new(users: Vec<User>, next_cursor: Option<String>) -> Self {
        UserPage { users, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_milliseconds_become_the_contracts_seconds() {
        let item = Item::new("1", "note", "T", "https://x/1")
            .created_at_ms(1_700_000_000_999)
            .updated_at_ms(-1);
        assert_eq!(item.created_at, Some(1_700_000_000));
        assert_eq!(
            item.updated_at,
            Some(-1),
            "floor, not truncation toward zero"
        );
        assert!(matches!(item.access.visibility, Visibility::Unknown));
        let c = Change::ready("1", Visibility::Public)
            .modified_at_ms(5)
            .fingerprint("f");
        assert_eq!(
            (c.modified_at, c.fingerprint.as_deref()),
            (Some(5), Some("f"))
        );
    }
}
