//! The string catalogue. Every visible string of every document comes
//! from here; a language is a value of [`Catalogue`], so a missing key in
//! either language is a compile error.

use chrono::{DateTime, Utc};

/// A document language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Es,
    En,
}

impl std::str::FromStr for Lang {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s {
            "es" => Ok(Lang::Es),
            "en" => Ok(Lang::En),
            other => Err(crate::Error::UnknownLanguage(other.to_owned())),
        }
    }
}

/// Every string the documents use.
#[derive(Debug)]
pub struct Catalogue {
    pub code: &'static str,
    pub breach_title: &'static str,
    pub breach_intro: &'static str,
    pub organisation: &'static str,
    pub window: &'static str,
    pub worker: &'static str,
    pub customer: &'static str,
    pub address: &'static str,
    pub generated: &'static str,
    pub customers_touched: &'static str,
    pub allowed_accesses: &'static str,
    pub denied_attempts: &'static str,
    pub accesses: &'static str,
    pub first_access: &'static str,
    pub last_access: &'static str,
    pub actions: &'static str,
    pub areas: &'static str,
    pub documents: &'static str,
    pub data_left: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub none_touched: &'static str,
    pub art33_note: &'static str,
    pub summary_title: &'static str,
    pub period: &'static str,
    pub total_events: &'static str,
    pub per_worker: &'static str,
    pub per_customer: &'static str,
    pub per_action: &'static str,
    pub denied_by_worker: &'static str,
    pub exports_downloads: &'static str,
    pub accesses_over_time: &'static str,
    pub unusual_activity: &'static str,
    pub unusual_note: &'static str,
    pub nothing_unusual: &'static str,
    pub chain_head: &'static str,
    pub count: &'static str,
    pub day: &'static str,
}

/// Spanish (the default).
pub const ES: Catalogue = Catalogue {
    code: "es",
    breach_title: "Informe de alcance de la brecha",
    breach_intro: "Clientes cuyos datos fueron consultados o tratados en la ventana indicada, según el registro de auditoría.",
    organisation: "Organización",
    window: "Ventana",
    worker: "Trabajador",
    customer: "Cliente",
    address: "Dirección de origen",
    generated: "Generado",
    customers_touched: "Clientes afectados",
    allowed_accesses: "Accesos permitidos",
    denied_attempts: "Intentos denegados",
    accesses: "Accesos",
    first_access: "Primer acceso",
    last_access: "Último acceso",
    actions: "Acciones",
    areas: "Áreas",
    documents: "Documentos",
    data_left: "Datos extraídos (exportación, descarga o impresión)",
    yes: "sí",
    no: "no",
    none_touched: "Ningún dato de cliente fue tratado en esta ventana.",
    art33_note: "Para la notificación a la autoridad (RGPD art. 33.3.a): categorías y número aproximado de interesados y de registros afectados.",
    summary_title: "Resumen de auditoría",
    period: "Periodo",
    total_events: "Eventos en el periodo",
    per_worker: "Accesos por trabajador",
    per_customer: "Clientes más consultados",
    per_action: "Accesos por acción",
    denied_by_worker: "Intentos denegados por trabajador",
    exports_downloads: "Exportaciones, descargas e impresiones",
    accesses_over_time: "Accesos por día",
    unusual_activity: "Actividad inusual",
    unusual_note: "Trabajadores con una actividad diaria muy superior a la habitual (más del triple de su mediana).",
    nothing_unusual: "Nada inusual en el periodo.",
    chain_head: "Cadena de auditoría",
    count: "Número",
    day: "Día",
};

/// English.
pub const EN: Catalogue = Catalogue {
    code: "en",
    breach_title: "Breach scope report",
    breach_intro: "Customers whose data was viewed or processed in the given window, according to the audit log.",
    organisation: "Organisation",
    window: "Window",
    worker: "Worker",
    customer: "Customer",
    address: "Client address",
    generated: "Generated",
    customers_touched: "Customers affected",
    allowed_accesses: "Allowed accesses",
    denied_attempts: "Denied attempts",
    accesses: "Accesses",
    first_access: "First access",
    last_access: "Last access",
    actions: "Actions",
    areas: "Areas",
    documents: "Documents",
    data_left: "Data taken out (export, download or print)",
    yes: "yes",
    no: "no",
    none_touched: "No customer data was processed in this window.",
    art33_note: "For the notification to the authority (GDPR art. 33(3)(a)): categories and approximate numbers of data subjects and records concerned.",
    summary_title: "Audit summary",
    period: "Period",
    total_events: "Events in the period",
    per_worker: "Accesses per worker",
    per_customer: "Most accessed customers",
    per_action: "Accesses per action",
    denied_by_worker: "Denied attempts per worker",
    exports_downloads: "Exports, downloads and prints",
    accesses_over_time: "Accesses per day",
    unusual_activity: "Unusual activity",
    unusual_note: "Workers whose daily activity was far above their usual (more than three times their median).",
    nothing_unusual: "Nothing unusual in the period.",
    chain_head: "Audit chain",
    count: "Count",
    day: "Day",
};

impl Lang {
    /// The catalogue of this language.
    pub fn catalogue(self) -> &'static Catalogue {
        match self {
            Lang::Es => &ES,
            Lang::En => &EN,
        }
    }

    /// A time in the language's usual form.
    pub fn time(self, t: DateTime<Utc>) -> String {
        match self {
            Lang::Es => t.format("%d/%m/%Y %H:%M UTC").to_string(),
            Lang::En => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }

    /// An integer with the language's thousands separator.
    pub fn number(self, n: i64) -> String {
        let sep = match self {
            Lang::Es => '.',
            Lang::En => ',',
        };
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(sep);
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_follow_the_locale() {
        assert_eq!(Lang::Es.number(1_234_567), "1.234.567");
        assert_eq!(Lang::En.number(1_234_567), "1,234,567");
        assert_eq!(Lang::En.number(12), "12");
        let t = DateTime::from_timestamp(1_764_000_000, 0).expect("time");
        assert!(Lang::Es.time(t).starts_with("24/11/2025"));
        assert!(Lang::En.time(t).starts_with("2025-11-24"));
    }

    #[test]
    fn no_catalogue_string_is_empty_or_left_untranslated() {
        // Missing keys do not compile; this catches empty ones and copies.
        let es = format!("{ES:?}");
        let en = format!("{EN:?}");
        assert!(!es.contains(": \"\"") && !en.contains(": \"\""));
        assert_ne!(ES.breach_title, EN.breach_title);
        assert_ne!(ES.summary_title, EN.summary_title);
    }
}
