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
#[cfg_attr(test, derive(serde::Serialize))]
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
    pub when: &'static str,
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
    pub last_checkpoint: &'static str,
    pub key_word: &'static str,
    pub signature_word: &'static str,
    pub count: &'static str,
    pub day: &'static str,
    pub missing: &'static str,
    pub dossier_title: &'static str,
    pub controller: &'static str,
    pub dpo: &'static str,
    pub sectors: &'static str,
    pub staff: &'static str,
    pub customers: &'static str,
    pub sequence: &'static str,
    pub ropa_title: &'static str,
    pub exemption_may: &'static str,
    pub exemption_not: &'static str,
    pub activity: &'static str,
    pub missing_field: &'static str,
    pub f_purposes: &'static str,
    pub f_legal_basis: &'static str,
    pub f_subjects: &'static str,
    pub f_categories: &'static str,
    pub f_special: &'static str,
    pub f_recipients: &'static str,
    pub f_transfers: &'static str,
    pub f_retention: &'static str,
    pub f_measures: &'static str,
    pub workers_title: &'static str,
    pub level: &'static str,
    pub departments: &'static str,
    pub roles: &'static str,
    pub grants: &'static str,
    pub sees: &'static str,
    pub may_see: &'static str,
    pub may_not_see: &'static str,
    pub customer_record: &'static str,
    pub packs_title: &'static str,
    pub version: &'static str,
    pub providers_title: &'static str,
    pub provider: &'static str,
    pub service: &'static str,
    pub availability: &'static str,
    pub support_hours: &'static str,
    pub incident_response: &'static str,
    pub assigned_staff: &'static str,
    pub access_modes: &'static str,
    pub updates_by: &'static str,
    pub backups_by: &'static str,
    pub load_limits: &'static str,
    pub interruptions: &'static str,
    pub confidentiality: &'static str,
    pub next_review: &'static str,
    pub overdue: &'static str,
    pub review_overdue: &'static str,
    pub no_confidentiality: &'static str,
    pub measures_title: &'static str,
    pub state: &'static str,
    pub e_passwords: &'static str,
    pub e_area_passwords: &'static str,
    pub e_chain: &'static str,
    pub e_backup: &'static str,
    pub e_encryption: &'static str,
    pub e_tls: &'static str,
    pub verified: &'static str,
    pub events: &'static str,
    pub checkpoints: &'static str,
    pub broken_at: &'static str,
    pub restore_checked: &'static str,
    pub not_provided: &'static str,
    pub backups_encrypted: &'static str,
    pub expires: &'static str,
    pub days_left: &'static str,
    pub expired: &'static str,
    pub register_measures: &'static str,
    pub training_title: &'static str,
    pub hours: &'static str,
    pub attendees: &'static str,
    pub breaches_title: &'static str,
    pub breach: &'static str,
    pub aware_at: &'static str,
    pub deadline: &'static str,
    pub nature: &'static str,
    pub subjects_records: &'static str,
    pub consequences: &'static str,
    pub measures_taken: &'static str,
    pub notified: &'static str,
    pub none: &'static str,
    pub pending_title: &'static str,
    pub law: &'static str,
    pub guidance: &'static str,
    pub nothing_pending: &'static str,
    pub no_dpo: &'static str,
    pub no_backup: &'static str,
    pub backup_stale: &'static str,
    pub training_due: &'static str,
    pub no_password: &'static str,
    pub notify_by: &'static str,
    pub chain_broken: &'static str,
    pub g_art30: &'static str,
    pub g_review: &'static str,
    pub g_confidentiality: &'static str,
    pub g_dpo: &'static str,
    pub g_backup: &'static str,
    pub g_tls: &'static str,
    pub g_training: &'static str,
    pub g_password: &'static str,
    pub g_breach: &'static str,
    pub g_chain: &'static str,
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
    when: "Fecha y hora",
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
    last_checkpoint: "Último punto de control firmado",
    key_word: "clave",
    signature_word: "firma",
    count: "Número",
    day: "Día",
    missing: "falta",
    dossier_title: "Expediente de Protección de Datos",
    controller: "Responsable del tratamiento",
    dpo: "Delegado de protección de datos",
    sectors: "Sectores",
    staff: "Plantilla",
    customers: "Clientes",
    sequence: "secuencia",
    ropa_title: "Registro de actividades de tratamiento (RGPD art. 30)",
    exemption_may: "Con menos de 250 empleados, la obligación del registro podría no aplicar si el tratamiento es ocasional y sin categorías especiales (art. 30.5); se mantiene igualmente.",
    exemption_not: "La excepción del art. 30.5 no aplica: hay categorías especiales de datos o más de 250 empleados.",
    activity: "Actividad",
    missing_field: "falta el campo",
    f_purposes: "finalidades",
    f_legal_basis: "base jurídica",
    f_subjects: "categorías de interesados",
    f_categories: "categorías de datos",
    f_special: "categorías especiales (art. 9)",
    f_recipients: "destinatarios",
    f_transfers: "transferencias internacionales",
    f_retention: "plazo de supresión",
    f_measures: "medidas de seguridad",
    workers_title: "Personal y niveles de acceso",
    level: "Nivel",
    departments: "Departamentos",
    roles: "Funciones",
    grants: "Permisos explícitos",
    sees: "Qué puede ver (según las reglas en vigor, en un cliente suyo)",
    may_see: "ve",
    may_not_see: "no ve",
    customer_record: "ficha del cliente",
    packs_title: "Reglas de acceso en vigor",
    version: "versión",
    providers_title: "Proveedores y acuerdos de nivel de servicio",
    provider: "Proveedor",
    service: "Servicio",
    availability: "Disponibilidad",
    support_hours: "Horario de soporte",
    incident_response: "Respuesta a incidencias",
    assigned_staff: "Personal asignado",
    access_modes: "Modos de acceso",
    updates_by: "Actualizaciones a cargo de",
    backups_by: "Copias de seguridad a cargo de",
    load_limits: "Límites de carga",
    interruptions: "Interrupciones programadas",
    confidentiality: "Cláusula de confidencialidad",
    next_review: "Próxima revisión",
    overdue: "REVISIÓN VENCIDA",
    review_overdue: "revisión periódica vencida",
    no_confidentiality: "sin cláusula de confidencialidad firmada",
    measures_title: "Medidas de seguridad y evidencias",
    state: "Estado",
    e_passwords: "Contraseñas del personal guardadas como hash argon2id",
    e_area_passwords: "Áreas de fichas cerradas con contraseña",
    e_chain: "Registro de auditoría verificado ahora",
    e_backup: "Última copia de seguridad y prueba de restauración",
    e_encryption: "Cifrado (copias y almacenamiento)",
    e_tls: "Certificado TLS",
    verified: "íntegro",
    events: "eventos",
    checkpoints: "puntos de control firmados",
    broken_at: "ROTO en la secuencia",
    restore_checked: "restauración comprobada el",
    not_provided: "ninguna medida de cifrado registrada: cifre el disco o la base de datos y anótelo (custodia add measure --category encryption)",
    backups_encrypted: "copias cifradas",
    expires: "caduca el",
    days_left: "días",
    expired: "CADUCADO el",
    register_measures: "Medidas registradas",
    training_title: "Formación del personal",
    hours: "horas",
    attendees: "Asistentes",
    breaches_title: "Violaciones de seguridad (RGPD art. 33)",
    breach: "Brecha",
    aware_at: "Conocimiento",
    deadline: "Plazo de notificación (72 h)",
    nature: "Naturaleza",
    subjects_records: "Interesados / registros (aprox.)",
    consequences: "Consecuencias probables",
    measures_taken: "Medidas adoptadas",
    notified: "Notificada a la autoridad",
    none: "Ninguna.",
    pending_title: "Acciones pendientes",
    law: "Norma",
    guidance: "Qué hacer",
    nothing_pending: "No hay acciones pendientes.",
    no_dpo: "No hay delegado de protección de datos designado",
    no_backup: "No consta ninguna copia de seguridad",
    backup_stale: "La última copia tiene más de 7 días o su restauración no se ha comprobado en 90 días",
    training_due: "No hay formación del personal en el último año",
    no_password: "cuenta activa sin contraseña",
    notify_by: "notificar a la autoridad antes de",
    chain_broken: "El registro de auditoría no verifica: posible manipulación",
    g_art30: "Complete la actividad en el registro: el art. 30.1 exige finalidades, categorías de interesados y datos, destinatarios, transferencias, plazos de supresión y medidas de seguridad.",
    g_review: "Revise con el proveedor su acuerdo de nivel de servicio (disponibilidad, soporte, tiempos de respuesta, responsabilidades) y fije la próxima revisión.",
    g_confidentiality: "Firme un contrato de encargo del tratamiento con cláusula de confidencialidad (art. 28.3) antes de seguir compartiendo datos.",
    g_dpo: "Los centros sanitarios que mantienen historias clínicas deben designar un DPD y comunicarlo a la AEPD.",
    g_backup: "Haga copias periódicas y pruebe su restauración; anote fecha y resultado.",
    g_tls: "Renueve el certificado antes de que caduque (automatícelo, p. ej. con ACME) y compruebe que el servidor usa el nuevo.",
    g_training: "Organice una sesión de concienciación sobre protección de datos y registre a los asistentes.",
    g_password: "Asigne una contraseña robusta o desactive la cuenta.",
    g_breach: "Notifique a la AEPD dentro de las 72 horas con los datos del art. 33.3; el informe de alcance de Custodia aporta el número de afectados.",
    g_chain: "Conserve una copia del registro, investigue el punto de ruptura con `custodia audit verify` y trátelo como una posible brecha.",
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
    when: "When",
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
    last_checkpoint: "Latest signed checkpoint",
    key_word: "key",
    signature_word: "signature",
    count: "Count",
    day: "Day",
    missing: "missing",
    dossier_title: "Data Protection Dossier",
    controller: "Controller",
    dpo: "Data protection officer",
    sectors: "Sectors",
    staff: "Staff",
    customers: "Customers",
    sequence: "sequence",
    ropa_title: "Records of processing activities (GDPR art. 30)",
    exemption_may: "With fewer than 250 staff the record may not be required if processing is occasional and without special categories (art. 30(5)); it is kept anyway.",
    exemption_not: "The art. 30(5) exemption does not apply: special categories are processed or staff exceeds 250.",
    activity: "Activity",
    missing_field: "missing field",
    f_purposes: "purposes",
    f_legal_basis: "legal basis",
    f_subjects: "categories of data subjects",
    f_categories: "categories of data",
    f_special: "special categories (art. 9)",
    f_recipients: "recipients",
    f_transfers: "international transfers",
    f_retention: "erasure time limit",
    f_measures: "security measures",
    workers_title: "Staff and access levels",
    level: "Level",
    departments: "Departments",
    roles: "Roles",
    grants: "Explicit grants",
    sees: "What they may see (by the rules in force, on a customer of theirs)",
    may_see: "sees",
    may_not_see: "does not see",
    customer_record: "customer record",
    packs_title: "Access rules in force",
    version: "version",
    providers_title: "Providers and service levels",
    provider: "Provider",
    service: "Service",
    availability: "Availability",
    support_hours: "Support hours",
    incident_response: "Incident response",
    assigned_staff: "Assigned staff",
    access_modes: "Access modes",
    updates_by: "Updates by",
    backups_by: "Backups by",
    load_limits: "Load limits",
    interruptions: "Scheduled interruptions",
    confidentiality: "Confidentiality clause",
    next_review: "Next review",
    overdue: "REVIEW OVERDUE",
    review_overdue: "periodic review overdue",
    no_confidentiality: "no signed confidentiality clause",
    measures_title: "Security measures and evidence",
    state: "State",
    e_passwords: "Staff passwords stored as argon2id hashes",
    e_area_passwords: "Record areas closed by a password",
    e_chain: "Audit log verified now",
    e_backup: "Last backup and restore check",
    e_encryption: "Encryption (backups and storage)",
    e_tls: "TLS certificate",
    verified: "intact",
    events: "events",
    checkpoints: "signed checkpoints",
    broken_at: "BROKEN at sequence",
    restore_checked: "restore checked on",
    not_provided: "no encryption measure recorded: encrypt the disk or database and record it (custodia add measure --category encryption)",
    backups_encrypted: "backups encrypted",
    expires: "expires on",
    days_left: "days",
    expired: "EXPIRED on",
    register_measures: "Registered measures",
    training_title: "Staff training",
    hours: "hours",
    attendees: "Attendees",
    breaches_title: "Personal data breaches (GDPR art. 33)",
    breach: "Breach",
    aware_at: "Aware at",
    deadline: "Notification deadline (72 h)",
    nature: "Nature",
    subjects_records: "Data subjects / records (approx.)",
    consequences: "Likely consequences",
    measures_taken: "Measures taken",
    notified: "Notified to the authority",
    none: "None.",
    pending_title: "Pending actions",
    law: "Law",
    guidance: "What to do",
    nothing_pending: "No pending actions.",
    no_dpo: "No data protection officer named",
    no_backup: "No backup is recorded",
    backup_stale: "The last backup is older than 7 days or its restore was not checked in 90 days",
    training_due: "No staff training in the last year",
    no_password: "active account without a password",
    notify_by: "notify the authority before",
    chain_broken: "The audit log does not verify: possible tampering",
    g_art30: "Complete the activity: art. 30(1) requires purposes, categories of data subjects and data, recipients, transfers, erasure time limits and security measures.",
    g_review: "Review the provider's service levels (availability, support, response times, responsibilities) and set the next review date.",
    g_confidentiality: "Sign a processing agreement with a confidentiality clause (art. 28(3)) before sharing more data.",
    g_dpo: "Health centres keeping patient records must name a DPO and tell the AEPD.",
    g_backup: "Take regular backups and test restoring them; record the date and result.",
    g_tls: "Renew the certificate before it expires (automate it, e.g. with ACME) and check the server serves the new one.",
    g_training: "Hold a data-protection awareness session and record who attended.",
    g_password: "Set a strong password or deactivate the account.",
    g_breach: "Notify the AEPD within 72 hours with the art. 33(3) details; Custodia's breach-scope report gives the numbers affected.",
    g_chain: "Keep a copy of the log, investigate the break with `custodia audit verify` and treat it as a possible breach.",
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

    /// A date in the language's usual form.
    pub fn date(self, d: chrono::NaiveDate) -> String {
        match self {
            Lang::Es => d.format("%d/%m/%Y").to_string(),
            Lang::En => d.format("%Y-%m-%d").to_string(),
        }
    }

    /// A day and month, for chart axes.
    pub fn day_month(self, d: chrono::NaiveDate) -> String {
        match self {
            Lang::Es => d.format("%d/%m").to_string(),
            Lang::En => d.format("%m-%d").to_string(),
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
        let day = t.date_naive();
        assert_eq!(Lang::Es.day_month(day), "24/11");
        assert_eq!(Lang::En.day_month(day), "11-24");
    }

    /// Keys whose text is the same word in both languages, on purpose.
    const SAME_IN_BOTH: &[&str] = &["no"];

    fn entries(catalogue: &Catalogue) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(catalogue) {
            Ok(serde_json::Value::Object(map)) => map,
            other => panic!("a catalogue serialises to an object, got {other:?}"),
        }
    }

    #[test]
    fn no_catalogue_string_is_empty_or_left_untranslated() {
        // Missing keys do not compile; this catches empty ones and copies,
        // key by key over the whole catalogue.
        let (es, en) = (entries(&ES), entries(&EN));
        assert_eq!(es.len(), en.len());
        assert!(es.len() > 100, "{} keys", es.len());
        let mut problems = Vec::new();
        for (key, es_text) in &es {
            let en_text = &en[key];
            if es_text.as_str().is_none_or(str::is_empty)
                || en_text.as_str().is_none_or(str::is_empty)
            {
                problems.push(format!("`{key}` is empty"));
            } else if es_text == en_text && !SAME_IN_BOTH.contains(&key.as_str()) {
                problems.push(format!("`{key}` is the same in both: {es_text}"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
