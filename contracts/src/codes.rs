//! Enums of stable codes, each variant with its written form: the problem
//! codes of every service and the saga's error codes are declared with
//! [`codes!`](crate::codes), so none is listed by hand.

/// A problem code: the stable snake_case name of a kind of problem, which
/// callers branch on.
pub trait ProblemCode: Copy + std::fmt::Debug + Send + Sync + 'static {
    fn as_str(self) -> &'static str;
}

/// Declares an enum of names, each variant with its written form: `ALL`,
/// `as_str`, `parse`, `Display` and `Serialize` (as written).
#[macro_export]
macro_rules! names {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, $crate::__serde::Serialize)]
        #[serde(crate = "contracts::__serde")]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every one, as documented.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// As written.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The one written `raw`, if any.
            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|c| c.as_str() == raw)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Declares an enum of problem codes: [`names!`](crate::names) and
/// [`ProblemCode`].
#[macro_export]
macro_rules! codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $crate::names! {
            $(#[$meta])*
            $vis enum $name {
                $($(#[$vmeta])* $variant = $text,)+
            }
        }

        impl $crate::codes::ProblemCode for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }
    };
}
