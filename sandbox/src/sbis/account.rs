//! The fixture account: the login, our organisation, its signer, and the counterparties the
//! simulated EDO network knows (values from the contract's §14 examples).

use super::model::Org;

/// Login of the fixture user (`СБИС.Аутентифицировать`).
pub const LOGIN: &str = "sandbox";
/// Its password.
pub const PASSWORD: &str = "sandbox-secret";

/// Our organisation (contract §14.5).
pub const OUR_INN: &str = "7700000001";
pub const OUR_KPP: &str = "770001001";
pub const OUR_NAME: &str = "ООО Наша";

/// The counterparty connected to EDO (contract §14.6).
pub const COUNTERPARTY_INN: &str = "7601000985";
pub const COUNTERPARTY_KPP: &str = "760601001";
pub const COUNTERPARTY_NAME: &str = "СК Премьер, ОАО";
pub const COUNTERPARTY_PARTICIPANT_ID: &str = "2BE812d49a2f4764a9e8155d95b0ba14708";

/// Thumbprint of the fixture signer's client key, as stages list it \[I: any thumbprint the
/// host names is accepted, since the host signs with its own certificate].
pub const CERT_THUMBPRINT: &str = "5E0F8A1B2C3D4E5F60718293A4B5C6D7E8F90A1B";
/// Owner of that certificate.
pub const CERT_OWNER: &str = "Иванов Иван Иванович";

pub(crate) fn our_org() -> Org {
    Org {
        inn: OUR_INN.into(),
        kpp: Some(OUR_KPP.into()),
        name: Some(OUR_NAME.into()),
        participant_id: None,
    }
}

/// The counterparty with ИНН `inn` (and КПП `kpp` when given) as the network knows it, or an
/// organisation outside EDO (no participant id: sending to it is an invitation, §13 step 3).
pub(crate) fn counterparty(inn: &str, kpp: Option<&str>, name: Option<&str>) -> Org {
    let known = inn == COUNTERPARTY_INN && kpp.is_none_or(|kpp| kpp == COUNTERPARTY_KPP);
    if known {
        return Org {
            inn: COUNTERPARTY_INN.into(),
            kpp: Some(COUNTERPARTY_KPP.into()),
            name: Some(name.unwrap_or(COUNTERPARTY_NAME).into()),
            participant_id: Some(COUNTERPARTY_PARTICIPANT_ID.into()),
        };
    }
    Org {
        inn: inn.into(),
        kpp: kpp.map(str::to_owned),
        name: name.map(str::to_owned),
        participant_id: None,
    }
}

/// Whether `inn` is an ИНН: 10 digits for an organisation, 12 for a person.
pub(crate) fn is_inn(inn: &str) -> bool {
    matches!(inn.len(), 10 | 12) && inn.bytes().all(|b| b.is_ascii_digit())
}
