//! What a caller may do: the scopes of its token (the `scope` claim,
//! space-separated, RFC 9068) and those of the roles it is in (the
//! `cognito:groups` or `groups` claim). Framework-free: the APIs check them
//! with `auth::Allowed`, the orchestrator with [`Scopes::require`].
//!
//! A scope may come bare (`orders:write`) or prefixed by a resource server,
//! as Cognito issues them (`back-office/orders:write`). Unknown scopes and
//! roles are ignored: they grant nothing.

use std::fmt;

macro_rules! scopes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// One permission, named as in the SPEC's table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Scope {
            $($(#[$doc])* $variant,)+
        }

        impl Scope {
            /// Every scope, in the SPEC's order.
            pub const ALL: &'static [Scope] = &[$(Scope::$variant,)+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Scope::$variant => $name,)+
                }
            }

            fn named(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Scope::$variant),)+
                    _ => None,
                }
            }
        }

        /// A marker type per scope, for extractors that name the scope in
        /// their type (`Allowed<needs::OrdersWrite>`): a handler without one
        /// cannot be written by mistake, and its scope reads in its signature.
        pub mod needs {
            $(
                $(#[$doc])*
                pub struct $variant;

                impl super::Permission for $variant {
                    const SCOPE: super::Scope = super::Scope::$variant;
                }
            )+
        }
    };
}

scopes! {
    /// `GET /customers`, `GET /customers/{id}`, their events.
    CustomersRead = "customers:read",
    /// `POST /customers`, `PUT /customers/{id}`, `DELETE /customers/{id}`.
    CustomersWrite = "customers:write",
    /// `GET /products`, `GET /products/{id}`, their events.
    CatalogRead = "catalog:read",
    /// `POST /products`, `PATCH /products/{id}`.
    CatalogWrite = "catalog:write",
    /// `GET /orders`, `GET /orders/{id}`, their events.
    OrdersRead = "orders:read",
    /// `POST /orders`, `POST /orders/{id}/confirm`, the saga.
    OrdersWrite = "orders:write",
    /// `POST /orders/{id}/cancel`.
    OrdersCancel = "orders:cancel",
}

/// A permission a route needs, as a type (see [`needs`]).
pub trait Permission {
    const SCOPE: Scope;
}

impl Scope {
    /// `name`, bare or after a resource server's identifier and a `/`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::named(name).or_else(|| {
            let (_, last) = name.rsplit_once('/')?;
            Self::named(last)
        })
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    pub const NONE: Scopes = Scopes(0);

    /// Every scope (the `admin` role).
    pub fn all() -> Self {
        Scope::ALL.iter().copied().collect()
    }

    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub const fn with(self, scope: Scope) -> Self {
        Scopes(self.0 | scope.bit())
    }

    pub const fn union(self, other: Scopes) -> Self {
        Scopes(self.0 | other.0)
    }

    /// Every scope but `scope`.
    pub fn without(self, scope: Scope) -> Self {
        Scopes(self.0 & !scope.bit())
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL
            .iter()
            .copied()
            .filter(move |s| self.contains(*s))
    }

    /// `Ok` when `scope` is granted, else `Err(scope)`, the one missing.
    pub fn require(self, scope: Scope) -> Result<(), Scope> {
        if self.contains(scope) {
            Ok(())
        } else {
            Err(scope)
        }
    }

    /// What a token grants: its `scope` claim, plus the scopes of the
    /// roles in its groups claim.
    pub fn granted<'a>(scope: Option<&str>, groups: impl IntoIterator<Item = &'a str>) -> Self {
        let direct: Scopes = scope
            .unwrap_or_default()
            .split_ascii_whitespace()
            .filter_map(Scope::parse)
            .collect();
        groups
            .into_iter()
            .filter_map(Role::parse)
            .fold(direct, |acc, role| acc.union(role.scopes()))
    }

    /// The `scope` claim that grants exactly these.
    pub fn claim(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(Scopes::NONE, Scopes::with)
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Scope::as_str))
            .finish()
    }
}

/// A group a user can be put in; each grants a set of scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Every `:read`.
    Viewer,
    /// viewer + `orders:write` + `orders:cancel`.
    OrderOperator,
    /// viewer + `catalog:write`.
    CatalogManager,
    /// viewer + `customers:write`.
    CustomerManager,
    /// Every scope.
    Admin,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Viewer,
        Role::OrderOperator,
        Role::CatalogManager,
        Role::CustomerManager,
        Role::Admin,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::OrderOperator => "order-operator",
            Role::CatalogManager => "catalog-manager",
            Role::CustomerManager => "customer-manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.as_str() == name)
    }

    /// The scopes the role grants.
    pub fn scopes(self) -> Scopes {
        use Scope::*;
        let viewer = Scopes::NONE
            .with(CustomersRead)
            .with(CatalogRead)
            .with(OrdersRead);
        match self {
            Role::Viewer => viewer,
            Role::OrderOperator => viewer.with(OrdersWrite).with(OrdersCancel),
            Role::CatalogManager => viewer.with(CatalogWrite),
            Role::CustomerManager => viewer.with(CustomersWrite),
            Role::Admin => Scopes::all(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a verified user token names, and what it allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    pub scopes: Scopes,
    /// The token's `exp`, in seconds since the epoch.
    pub expires_at: i64,
}

impl Principal {
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(*s));
        }
        let mut names: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        names.dedup();
        assert_eq!(names.len(), 7);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
    }

    #[test]
    fn roles_grant_what_the_spec_says() {
        let reads = ["customers:read", "catalog:read", "orders:read"];
        let names = |r: Role| r.scopes().iter().map(Scope::as_str).collect::<Vec<_>>();
        assert_eq!(names(Role::Viewer), reads);
        assert_eq!(
            names(Role::OrderOperator),
            [
                "customers:read",
                "catalog:read",
                "orders:read",
                "orders:write",
                "orders:cancel"
            ]
        );
        assert_eq!(
            names(Role::CatalogManager),
            [
                "customers:read",
                "catalog:read",
                "catalog:write",
                "orders:read"
            ]
        );
        assert_eq!(
            names(Role::CustomerManager),
            [
                "customers:read",
                "customers:write",
                "catalog:read",
                "orders:read"
            ]
        );
        assert_eq!(Role::Admin.scopes(), Scopes::all());
        for r in Role::ALL {
            for read in [Scope::CustomersRead, Scope::CatalogRead, Scope::OrdersRead] {
                assert!(r.scopes().contains(read), "{r} reads {read}");
            }
        }
    }

    #[test]
    fn a_token_grants_its_scopes_and_its_roles_scopes_and_nothing_unknown() {
        let g = Scopes::granted(Some("orders:write  catalog:write"), ["viewer"]);
        assert!(g.contains(Scope::OrdersWrite) && g.contains(Scope::CatalogWrite));
        assert!(g.contains(Scope::CustomersRead));
        assert!(!g.contains(Scope::OrdersCancel) && !g.contains(Scope::CustomersWrite));
        // Cognito's resource-server prefix.
        let c = Scopes::granted(
            Some("https://api.example/orders:cancel back-office/customers:write"),
            [],
        );
        assert_eq!(
            c,
            Scopes::NONE
                .with(Scope::OrdersCancel)
                .with(Scope::CustomersWrite)
        );
        // Unknown names, other spellings, an admin-looking scope: nothing.
        let none = Scopes::granted(
            Some("admin orders:* ORDERS:WRITE orders:writer openid"),
            ["Admin", "root", "order_operator", ""],
        );
        assert_eq!(none, Scopes::NONE);
        assert_eq!(Scopes::granted(None, []), Scopes::NONE);
    }

    proptest! {
        #[test]
        fn a_claim_grants_exactly_what_it_names(bits in 0u8..128) {
            let set: Scopes = Scope::ALL.iter().copied().filter(|s| bits & s.bit() != 0).collect();
            prop_assert_eq!(Scopes::granted(Some(&set.claim()), []), set);
            for s in Scope::ALL {
                prop_assert_eq!(set.require(*s).is_ok(), bits & s.bit() != 0);
                prop_assert!(!set.without(*s).contains(*s));
            }
        }
    }
}
