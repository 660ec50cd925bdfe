//! SINtegre's portal state (contract §5.1): products, their publications, the integrations
//! that subscribe to them, and a slot per (integration, product) with the last status, which
//! is all the portal keeps ("Exibir Detalhes", §3.4).

use std::collections::BTreeMap;

use axum::body::Bytes;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::token::{self, Claims};
use crate::senders::Prepared;

/// Most products, publications and integrations kept; a sandbox is not a file server.
pub(crate) const MAX_ITEMS: usize = 100_000;
/// Bytes kept across every publication's file; the oldest publications lose their file first.
const MAX_FILE_BYTES: usize = 512 * 1024 * 1024;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Product {
    pub id: u64,
    pub nome: String,
    pub processo: String,
    #[serde(rename = "macroProcesso")]
    pub macro_processo: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Publication {
    pub id: u64,
    pub product_id: u64,
    /// Counts the product's publications, from 1.
    pub version_id: u64,
    #[serde(rename = "dataProduto")]
    pub data_produto: String,
    /// Sent verbatim: a test may give the `.000Z` form a receiver must flag (§1.6).
    pub periodicidade: String,
    #[serde(rename = "periodicidadeFinal")]
    pub periodicidade_final: String,
    pub is_file: bool,
    /// The `URL` claim: the file's path on SINtegre, or a timestamped folder.
    pub inner_url: String,
    pub file_name: String,
    pub content_type: String,
    #[serde(skip)]
    pub bytes: Option<Bytes>,
    pub size: usize,
    pub sha256: String,
    pub published_at: DateTime<Utc>,
}

/// How an integration authenticates (§2).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum Auth {
    None,
    /// Preemptive `Authorization: Basic base64(user:password)` (§2, §5.2).
    Basic {
        user: String,
        password: String,
    },
    /// The token as the whole `Authorization` value ([W] §2), or after `Bearer ` (unknown).
    Token {
        value: String,
        #[serde(default)]
        scheme: TokenScheme,
    },
}

/// Hand-written so secrets never reach logs.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            Auth::Token { scheme, .. } => write!(f, "Token(***, {scheme:?})"),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TokenScheme {
    #[default]
    Raw,
    Bearer,
}

/// Member names of the body (§1.4): what the wire shows, or what the guide says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Casing {
    /// `dataProduto`, …, `url`: every real payload.
    #[default]
    Camel,
    /// `DataProduto`, …, `Uri`: the guide's names.
    Guide,
}

/// An integration as the portal's form takes it (create and "Editar").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntegrationForm {
    #[serde(default)]
    pub descricao: String,
    pub url: String,
    #[serde(default = "no_auth")]
    pub auth: Auth,
    #[serde(default)]
    pub produtos: Vec<u64>,
    #[serde(default)]
    pub casing: Casing,
    /// Members added to every body (a receiver must keep unknown members, §6 test 9).
    #[serde(default)]
    pub extra_members: Map<String, Value>,
}

fn no_auth() -> Auth {
    Auth::None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SlotStatus {
    Never,
    Sending,
    Delivered,
    Failed,
}

/// One row of "Exibir Detalhes": the last status only, not a log (§3.4).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Slot {
    pub product_id: u64,
    pub latest_publication: Option<u64>,
    pub last_status: SlotStatus,
    /// `Http(503)`, `Timeout`, `Connect(…)` for a failed slot.
    pub reason: Option<String>,
    pub last_attempt_at: Option<String>,
    pub attempts: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Integration {
    pub id: u64,
    pub form: IntegrationForm,
    /// By product id.
    pub slots: BTreeMap<u64, Slot>,
}

/// What the proxy answers for an expired link; the real answer is unknown (§4, §7.1 q8).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpiredAnswer {
    pub status: u16,
    pub body: String,
}

/// How the proxy names the file (§4): the forms receivers must read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// `filename="…"` plus RFC 6266 `filename*=UTF-8''…`.
    #[default]
    Rfc6266,
    /// `filename="…"` with the name's UTF-8 bytes as they are.
    Plain,
    /// `filename="=?utf-8?B?…?="` (RFC 2047, seen by Raízen).
    Rfc2047,
    /// No `Content-Disposition` at all.
    None,
}

pub(crate) struct State {
    pub token_ttl: Duration,
    pub key: Vec<u8>,
    pub username: String,
    pub proxy_base: String,
    pub expired: ExpiredAnswer,
    pub disposition: Disposition,
    /// Added to the wall clock: a jump makes links expire early (§5.3).
    pub clock_offset: Duration,
    /// The next this many downloads stop halfway (§5.3 "a truncated body").
    pub truncate_downloads: u32,
    next_id: u64,
    pub products: BTreeMap<u64, Product>,
    pub publications: BTreeMap<u64, Publication>,
    pub integrations: BTreeMap<u64, Integration>,
    /// Publications so far, by product.
    versions: BTreeMap<u64, u64>,
    file_bytes: usize,
}

/// A publication as the control route takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublicationForm {
    #[serde(rename = "dataProduto")]
    pub data_produto: String,
    pub periodicidade: String,
    #[serde(rename = "periodicidadeFinal")]
    pub periodicidade_final: String,
    pub file_name: String,
    /// The file as text, or…
    pub content: Option<String>,
    /// …as base64.
    pub content_base64: Option<String>,
    pub content_type: Option<String>,
    /// `false`: the `URL` claim is a folder and the proxy serves `<nome>.zip` (§4).
    #[serde(default = "yes")]
    pub is_file: bool,
    pub inner_url: Option<String>,
    /// Publishes this many versions at once (for load tests), file names numbered.
    pub count: Option<u32>,
}

fn yes() -> bool {
    true
}

impl State {
    pub fn new(config: &super::SintegreConfig) -> State {
        State {
            token_ttl: Duration::seconds(i64::try_from(config.token_ttl.as_secs()).unwrap_or(0)),
            key: config.token_key.clone(),
            username: config.username.clone(),
            proxy_base: config.proxy_base.clone().unwrap_or_default(),
            expired: config.expired.clone(),
            disposition: config.disposition,
            clock_offset: Duration::zero(),
            truncate_downloads: 0,
            next_id: 1,
            products: BTreeMap::new(),
            publications: BTreeMap::new(),
            integrations: BTreeMap::new(),
            versions: BTreeMap::new(),
            file_bytes: 0,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn full(&self) -> Result<(), String> {
        if self.products.len() + self.publications.len() + self.integrations.len() >= MAX_ITEMS {
            return Err(format!("the sandbox keeps at most {MAX_ITEMS} SINtegre items"));
        }
        Ok(())
    }

    pub fn add_product(
        &mut self,
        nome: String,
        processo: String,
        macro_processo: String,
    ) -> Result<Product, String> {
        self.full()?;
        // §1.3: names are identifiers and compared exactly, odd spaces and all.
        if self.products.values().any(|p| p.nome == nome) {
            return Err(format!("a product named {nome:?} exists"));
        }
        let id = self.next_id();
        let product = Product { id, nome, processo, macro_processo };
        self.products.insert(id, product.clone());
        Ok(product)
    }

    /// Stores a publication; returns it and the integrations whose list has its product.
    pub fn publish(
        &mut self,
        product_id: u64,
        form: PublicationForm,
    ) -> Result<(Publication, Vec<u64>), String> {
        self.full()?;
        if !self.products.contains_key(&product_id) {
            return Err(format!("no product {product_id}"));
        }
        let bytes = match (form.content, form.content_base64) {
            (Some(text), None) => Bytes::from(text),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map(Bytes::from)
                .map_err(|e| format!("\"content_base64\" is not base64: {e}"))?,
            _ => return Err("give exactly one of \"content\" and \"content_base64\"".into()),
        };
        if form.file_name.is_empty() || form.file_name.contains('/') {
            return Err("\"file_name\" must be a file name, without '/'".into());
        }
        let now = self.now();
        let version_id = {
            let versions = self.versions.entry(product_id).or_default();
            *versions += 1;
            *versions
        };
        // §1.7: a file's path, or a folder named after its local timestamp.
        let inner_url = form.inner_url.unwrap_or_else(|| {
            if form.is_file {
                format!(
                    "https://sintegre.ons.org.br/sites/7/39/Produtos/{product_id}/{}",
                    form.file_name
                )
            } else {
                let local = now - Duration::hours(3);
                format!(
                    "/sites/9/52/71/Produtos/{product_id}/{}_{:02}",
                    local.format("%d-%m-%Y_%H%M"),
                    version_id % 60
                )
            }
        });
        let content_type = form.content_type.unwrap_or_else(|| {
            crate::files::mime_type(&form.file_name).unwrap_or("application/octet-stream").into()
        });
        let id = self.next_id();
        let publication = Publication {
            id,
            product_id,
            version_id,
            data_produto: form.data_produto,
            periodicidade: form.periodicidade,
            periodicidade_final: form.periodicidade_final,
            is_file: form.is_file,
            inner_url,
            file_name: form.file_name,
            content_type,
            size: bytes.len(),
            sha256: crate::files::sha256_hex(&bytes),
            bytes: Some(bytes),
            published_at: now,
        };
        self.file_bytes += publication.size;
        self.publications.insert(id, publication.clone());
        self.evict_files();
        let mut targets = Vec::new();
        for integration in self.integrations.values_mut() {
            if let Some(slot) = integration.slots.get_mut(&product_id) {
                // §5.2: a publish replaces the latest publication, whatever the slot's status.
                slot.latest_publication = Some(id);
                slot.last_status = SlotStatus::Sending;
                targets.push(integration.id);
            }
        }
        Ok((publication, targets))
    }

    /// Oldest files go first beyond [`MAX_FILE_BYTES`]; their links then answer 404.
    fn evict_files(&mut self) {
        for publication in self.publications.values_mut() {
            if self.file_bytes <= MAX_FILE_BYTES {
                break;
            }
            if let Some(bytes) = publication.bytes.take() {
                self.file_bytes -= bytes.len();
            }
        }
    }

    pub fn add_integration(&mut self, form: IntegrationForm) -> Result<u64, String> {
        self.full()?;
        self.check_form(&form)?;
        let id = self.next_id();
        let slots = form.produtos.iter().map(|p| (*p, new_slot(*p))).collect();
        self.integrations.insert(id, Integration { id, form, slots });
        Ok(id)
    }

    /// "Editar": removed products drop their slots, added ones start `Never` (§5.2).
    pub fn edit_integration(&mut self, id: u64, form: IntegrationForm) -> Result<(), String> {
        self.check_form(&form)?;
        let integration =
            self.integrations.get_mut(&id).ok_or_else(|| format!("no integration {id}"))?;
        integration.slots.retain(|product, _| form.produtos.contains(product));
        for product in &form.produtos {
            integration.slots.entry(*product).or_insert_with(|| new_slot(*product));
        }
        integration.form = form;
        Ok(())
    }

    fn check_form(&self, form: &IntegrationForm) -> Result<(), String> {
        if !(form.url.starts_with("http://") || form.url.starts_with("https://")) {
            return Err("\"url\" must be an http or https URL".into());
        }
        if let Some(missing) = form.produtos.iter().find(|p| !self.products.contains_key(p)) {
            return Err(format!("\"produtos\": no product {missing}"));
        }
        Ok(())
    }

    /// The request one attempt sends: a token minted now, the body in the integration's
    /// casing, auth as configured, preemptively (§5.2).
    pub fn render(
        &self,
        integration_id: u64,
        publication_id: Option<u64>,
    ) -> Result<Prepared, String> {
        let integration = self
            .integrations
            .get(&integration_id)
            .ok_or_else(|| format!("integration {integration_id} was deleted"))?;
        let body = match publication_id {
            Some(id) => {
                let publication =
                    self.publications.get(&id).ok_or_else(|| format!("no publication {id}"))?;
                let product = self
                    .products
                    .get(&publication.product_id)
                    .ok_or_else(|| format!("no product {}", publication.product_id))?;
                self.body(integration, product, publication)
            }
            None => self.synthetic_body(integration),
        };
        let mut headers =
            vec![("Content-Type".to_owned(), "application/json; charset=utf-8".to_owned())];
        match &integration.form.auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                let credentials =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                headers.push(("Authorization".into(), format!("Basic {credentials}")));
            }
            Auth::Token { value, scheme: TokenScheme::Raw } => {
                headers.push(("Authorization".into(), value.clone()));
            }
            Auth::Token { value, scheme: TokenScheme::Bearer } => {
                headers.push(("Authorization".into(), format!("Bearer {value}")));
            }
        }
        let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        Ok(Prepared { url: integration.form.url.clone(), headers, body })
    }

    fn link(&self, url_claim: &str, nome: &str, is_file: bool) -> String {
        let nbf = self.now().timestamp();
        let claims = Claims {
            url: url_claim.to_owned(),
            username: self.username.clone(),
            nome_produto: nome.to_owned(),
            is_file: if is_file { "True" } else { "False" }.to_owned(),
            iss: token::ISSUER.to_owned(),
            aud: token::ISSUER.to_owned(),
            nbf,
            exp: nbf + self.token_ttl.num_seconds(),
        };
        format!(
            "{}/ONS.Sintegre.Proxy/webhook?token={}",
            self.proxy_base,
            token::mint(&claims, &self.key)
        )
    }

    fn body(
        &self,
        integration: &Integration,
        product: &Product,
        publication: &Publication,
    ) -> Value {
        let url = self.link(&publication.inner_url, &product.nome, publication.is_file);
        members(
            integration,
            [
                &product.nome,
                &product.processo,
                &publication.data_produto,
                &product.macro_processo,
                &publication.periodicidade,
                &publication.periodicidade_final,
                &url,
            ],
        )
    }

    /// "Enviar" with nothing published: a made-up product whose link leads nowhere ([I] §3.4).
    fn synthetic_body(&self, integration: &Integration) -> Value {
        let url =
            self.link("https://sintegre.ons.org.br/sites/0/Produtos/0/teste.txt", "Teste", true);
        let now = self.now() - Duration::hours(3);
        let day = now.format("%Y-%m-%d").to_string();
        members(
            integration,
            [
                "Teste de integração",
                "Teste",
                &now.format("%d/%m/%Y").to_string(),
                "Teste",
                &format!("{day}T00:00:00"),
                &format!("{day}T23:59:59"),
                &url,
            ],
        )
    }
}

fn new_slot(product_id: u64) -> Slot {
    Slot {
        product_id,
        latest_publication: None,
        last_status: SlotStatus::Never,
        reason: None,
        last_attempt_at: None,
        attempts: 0,
    }
}

/// The seven members (§1.3) named per casing (§1.4), then any extra members. Member order is
/// not part of the contract (§1.5: it varies between sources).
fn members(integration: &Integration, values: [&str; 7]) -> Value {
    const CAMEL: [&str; 7] = [
        "nome",
        "processo",
        "dataProduto",
        "macroProcesso",
        "periodicidade",
        "periodicidadeFinal",
        "url",
    ];
    const GUIDE: [&str; 7] = [
        "Nome",
        "Processo",
        "DataProduto",
        "MacroProcesso",
        "Periodicidade",
        "PeriodicidadeFinal",
        "Uri",
    ];
    let names = match integration.form.casing {
        Casing::Camel => CAMEL,
        Casing::Guide => GUIDE,
    };
    let mut body = Map::new();
    for (name, value) in names.iter().zip(values) {
        body.insert((*name).to_owned(), json!(value));
    }
    for (name, value) in &integration.form.extra_members {
        body.entry(name.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(body)
}
