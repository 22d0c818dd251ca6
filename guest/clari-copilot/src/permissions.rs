//! Access facts to permissions, failing closed: public calls are visible to every user of
//! the datasource; restricted calls to their members (valid-looking emails, lowercased,
//! deduplicated); anything else, including a restricted call without usable members and
//! an unknown visibility, to nobody. This is the SDK's usual mapping
//! ([`connector_sdk::permissions::public_or_members`]); the tests below pin it for Clari.

use connector_sdk::{AccessFacts, Permissions};

pub use connector_sdk::permissions::looks_like_email;

pub fn map(facts: &AccessFacts) -> Permissions {
    connector_sdk::permissions::public_or_members(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::Visibility;

    fn facts(visibility: Visibility, members: Option<&[&str]>) -> AccessFacts {
        AccessFacts {
            visibility,
            members: members.map(|m| m.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn users(p: Permissions) -> Option<Vec<String>> {
        match p {
            Permissions::Users(u) => Some(u),
            _ => None,
        }
    }

    #[test]
    fn every_case() {
        let some: &[&str] = &["a@b.co"];
        for members in [None, Some(&[][..]), Some(some)] {
            assert!(matches!(
                map(&facts(Visibility::Public, members)),
                Permissions::AllUsers
            ));
            assert!(matches!(
                map(&facts(Visibility::Unknown, members)),
                Permissions::Nobody
            ));
        }
        assert!(matches!(
            map(&facts(Visibility::Restricted, None)),
            Permissions::Nobody
        ));
        assert!(matches!(
            map(&facts(Visibility::Restricted, Some(&[]))),
            Permissions::Nobody
        ));
        assert!(matches!(
            map(&facts(
                Visibility::Restricted,
                Some(&["", "  ", "not-an-email", "a@b", "x@@y.co"])
            )),
            Permissions::Nobody
        ));
        assert_eq!(
            users(map(&facts(
                Visibility::Restricted,
                Some(&[
                    " Rep@Acme.COM ",
                    "rep@acme.com",
                    "se@acme.com",
                    "bad",
                    "a@b.co, c@d.co"
                ])
            ))),
            Some(vec!["rep@acme.com".to_string(), "se@acme.com".to_string()])
        );
    }

    #[test]
    fn email_shapes() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org", "ユキ@例え.jp"] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in [
            "",
            "@b.co",
            "a@",
            "a@b",
            "a@.b.co",
            "a@b.co.",
            "a@b..co",
            "a b@c.co",
            "a@b.co,c@d.co",
            "<a@b.co>",
            "a@b@c.co",
            "a@b.co\n",
        ] {
            assert!(!looks_like_email(bad), "{bad:?}");
        }
    }

    /// xorshift64*: a deterministic generator for the property test below.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    fn random_member(rng: &mut Rng) -> String {
        let locals = [
            "rep", "Se", "jane.doe", "ALL", "*", "", "admin+x", "ユキ", " ",
        ];
        let domains = [
            "acme.com",
            "ACME.com",
            "prospect.io",
            "",
            "localhost",
            "b..c",
            ".com",
            "例え.jp",
            "x.co ",
        ];
        let seps = ["@", "@", "@", "", "@@", " @", ","];
        let pads = ["", " ", "\t", "\n"];
        format!(
            "{}{}{}{}{}",
            rng.pick(&pads),
            rng.pick(&locals),
            rng.pick(&seps),
            rng.pick(&domains),
            rng.pick(&pads)
        )
    }

    #[test]
    fn property_no_grant_beyond_members_and_failures_fail_closed() {
        let mut rng = Rng(0x5eed_c1a5_1c0d_e001);
        for case in 0..20_000 {
            let visibility = match rng.next() % 3 {
                0 => Visibility::Public,
                1 => Visibility::Restricted,
                _ => Visibility::Unknown,
            };
            let members: Option<Vec<String>> = match rng.next() % 5 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(
                    (0..rng.next() % 6)
                        .map(|_| random_member(&mut rng))
                        .collect(),
                ),
            };
            let f = AccessFacts {
                visibility,
                members: members.clone(),
            };
            let normalized: Vec<String> = members
                .iter()
                .flatten()
                .map(|m| m.trim().to_lowercase())
                .collect();
            let any_valid = normalized.iter().any(|m| looks_like_email(m));
            match (visibility, map(&f)) {
                (Visibility::Public, Permissions::AllUsers) => {}
                (Visibility::Unknown, Permissions::Nobody) => {}
                (Visibility::Restricted, Permissions::Nobody) => {
                    assert!(
                        !any_valid,
                        "case {case}: valid members {normalized:?} were dropped"
                    )
                }
                (Visibility::Restricted, Permissions::Users(granted)) => {
                    assert!(!granted.is_empty(), "case {case}: an empty grant");
                    for g in &granted {
                        assert!(
                            normalized.contains(g),
                            "case {case}: {g} is not a member of {normalized:?}"
                        );
                        assert!(looks_like_email(g), "case {case}: {g:?} granted");
                        assert_eq!(g, &g.to_lowercase());
                        assert_eq!(
                            granted.iter().filter(|x| *x == g).count(),
                            1,
                            "case {case}: {g} twice"
                        );
                    }
                    for m in normalized.iter().filter(|m| looks_like_email(m)) {
                        assert!(granted.contains(m), "case {case}: member {m} left out");
                    }
                }
                (v, p) => panic!("case {case}: {v:?} with {members:?} gave {p:?}"),
            }
        }
    }
}
