//! The two companies the iDocs sandbox serves (contract §7.1): company A, the sender, and
//! company B, its counterparty, each with its bearer token and employees. Ids are fixed, so
//! tests, the demo and the CLI can name them.
//!
//! BINs are the contract's own examples (§7.4): A is `100740000000`, B `123456789012`.

use super::wire;

/// Bearer token of company A, the sender. Shaped like the real tokens: a JWE compact
/// serialisation whose header reads `{"alg":"RSA-OAEP","enc":"A256CBC-HS512","typ":"at+jwt"}`
/// (contract §1.2). The sandbox only compares it.
pub const DEFAULT_TOKEN: &str = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZDQkMtSFM1MTIiLCJ0eXAiOiJhdCtqd3QifQ.c2lnbmJyaWRnZS1zYW5kYm94LWNvbXBhbnktYQ.aWRvY3Mtc2FuZGJveA.QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE.c2VuZGVy";
/// Bearer token of company B, the counterparty.
pub const COUNTERPARTY_TOKEN: &str = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZDQkMtSFM1MTIiLCJ0eXAiOiJhdCtqd3QifQ.c2lnbmJyaWRnZS1zYW5kYm94LWNvbXBhbnktYg.aWRvY3Mtc2FuZGJveA.QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI.cmVjaXBpZW50";

/// Company A's BIN.
pub const SENDER_BIN: &str = "100740000000";
/// Company A's `companyId`.
pub const SENDER_COMPANY_ID: &str = "5d1c7e2a-3b4f-4a6e-9c8d-1a2b3c4d5e01";
/// Company A's employee allowed to create, route and sign.
pub const SENDER_EMPLOYEE_ID: &str = "7e2d8f3b-4c5a-4b7f-8d9e-2b3c4d5e6f01";
/// Company B's BIN.
pub const COUNTERPARTY_BIN: &str = "123456789012";
/// Company B's `companyId`.
pub const COUNTERPARTY_COMPANY_ID: &str = "5d1c7e2a-3b4f-4a6e-9c8d-1a2b3c4d5e02";
/// Company B's employee allowed to sign incoming documents.
pub const COUNTERPARTY_EMPLOYEE_ID: &str = "7e2d8f3b-4c5a-4b7f-8d9e-2b3c4d5e6f02";

/// Permissions of the seeded employees. The swagger does not enumerate the values (contract
/// §2.6); these names are the sandbox's.
const PERMISSIONS: &[&str] =
    &["DOCUMENTS_READ", "DOCUMENTS_CREATE", "DOCUMENTS_SIGN", "ROUTES_EDIT"];

#[derive(Debug, Clone)]
pub(crate) struct Employee {
    pub id: &'static str,
    pub iin: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub position: &'static str,
    pub email: &'static str,
}

impl Employee {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.last_name, self.first_name)
    }

    pub fn permissions(&self) -> &'static [&'static str] {
        PERMISSIONS
    }

    pub fn view(&self, created_on: i64) -> wire::Employee {
        wire::Employee {
            id: self.id.into(),
            national_identification_number: self.iin.into(),
            first_name: self.first_name.into(),
            last_name: self.last_name.into(),
            full_name: self.full_name(),
            position: self.position.into(),
            email: self.email.into(),
            created_on,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Company {
    /// `CompanyTokenInfoVM.id`: the token's own id.
    pub token_id: &'static str,
    pub id: &'static str,
    pub bin: &'static str,
    pub name: &'static str,
    pub token: String,
    pub employees: Vec<Employee>,
}

impl Company {
    /// An employee of this company by id (any casing).
    pub fn employee(&self, id: &str) -> Option<&Employee> {
        self.employees.iter().find(|e| e.id.eq_ignore_ascii_case(id.trim()))
    }
}

/// Which seeded company: an index into [`seeded`]'s list, stable for the sandbox's lifetime.
pub(crate) type CompanyIndex = usize;

/// Company A then company B, with the given tokens.
pub(crate) fn seeded(sender_token: String, counterparty_token: String) -> Vec<Company> {
    vec![
        Company {
            token_id: "3a9b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c01",
            id: SENDER_COMPANY_ID,
            bin: SENDER_BIN,
            name: "ТОО «Signbridge Sandbox Отправитель»",
            token: sender_token,
            employees: vec![Employee {
                id: SENDER_EMPLOYEE_ID,
                iin: "850101300017",
                first_name: "Айгерим",
                last_name: "Сатпаева",
                position: "Директор",
                email: "sender@signbridge.test",
            }],
        },
        Company {
            token_id: "3a9b1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c02",
            id: COUNTERPARTY_COMPANY_ID,
            bin: COUNTERPARTY_BIN,
            name: "ТОО «Signbridge Sandbox Контрагент»",
            token: counterparty_token,
            employees: vec![Employee {
                id: COUNTERPARTY_EMPLOYEE_ID,
                iin: "900202400028",
                first_name: "Нурлан",
                last_name: "Ахметов",
                position: "Генеральный директор",
                email: "counterparty@signbridge.test",
            }],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::is_guid;

    #[test]
    fn the_seed_is_consistent() {
        let companies = seeded(DEFAULT_TOKEN.into(), COUNTERPARTY_TOKEN.into());
        assert_eq!(companies.len(), 2);
        for company in &companies {
            assert!(is_guid(company.id) && is_guid(company.token_id));
            assert_eq!(company.bin.len(), 12);
            assert!(company.bin.bytes().all(|b| b.is_ascii_digit()));
            assert!(company.employees.iter().all(|e| is_guid(e.id) && e.iin.len() == 12));
        }
        assert!(companies[0].employee(&SENDER_EMPLOYEE_ID.to_uppercase()).is_some());
        assert!(companies[0].employee(COUNTERPARTY_EMPLOYEE_ID).is_none());
        assert_ne!(DEFAULT_TOKEN, COUNTERPARTY_TOKEN);
    }
}
