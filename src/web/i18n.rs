//! Spanish and English for the web UI: the language comes from the
//! `custodia_lang` cookie, else from `Accept-Language`, else Spanish.

use axum::http::{HeaderMap, header};

use super::cookie;

/// A language the UI speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

impl Lang {
    /// The language a request asks for.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(chosen) = cookie::read(headers, cookie::LANG).and_then(|c| Lang::parse(&c)) {
            return chosen;
        }
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .map(|part| part.split(';').next().unwrap_or_default().trim())
                    .find_map(|tag| Lang::parse(tag.split('-').next().unwrap_or_default()))
            })
            .unwrap_or(Lang::Es)
    }

    /// `es` or `en`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.to_ascii_lowercase().as_str() {
            "es" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The code, for `<html lang>` and links.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        }
    }

    /// The reports' language.
    pub fn report(self) -> custodia_reports::Lang {
        match self {
            Lang::Es => custodia_reports::Lang::Es,
            Lang::En => custodia_reports::Lang::En,
        }
    }

    /// The text for `key`; the key itself when missing (a unit test keeps
    /// every key the templates use in the table).
    pub fn t(self, key: &str) -> &'static str {
        TEXTS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or("?", |(_, es, en)| self.pick(es, en))
    }

    /// The Spanish or the English of a pair.
    fn pick(self, es: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Es => es,
            Lang::En => en,
        }
    }

    /// What kind of tampering a break of the audit chain looks like, in
    /// this language.
    pub fn break_kind(self, kind: &custodia_engine::audit::BreakKind) -> &'static str {
        use custodia_engine::audit::BreakKind as K;
        let (es, en) = match kind {
            K::Edited => ("evento modificado", "edited"),
            K::Deleted => ("eventos borrados", "deleted"),
            K::Inserted => ("evento insertado", "inserted"),
            K::Reordered => ("eventos reordenados", "reordered"),
            K::Truncated => ("registro recortado", "truncated"),
            K::BadSignature => ("firma no válida", "bad signature"),
            K::Rewritten => ("registro reescrito", "rewritten"),
            K::CheckpointDeleted => ("punto de control borrado", "checkpoint deleted"),
            K::HeadForged => ("cabeza falsificada", "head forged"),
            K::TreeRoot => ("raíz de Merkle distinta", "tree root differs"),
            K::PrunedEarly => ("purgado antes de plazo", "pruned early"),
            K::BadCosignature => ("cofirma no válida", "bad cosignature"),
        };
        self.pick(es, en)
    }
}

/// (key, Spanish, English).
const TEXTS: &[(&str, &str, &str)] = &[
    ("app", "Custodia", "Custodia"),
    ("skip", "Saltar al contenido", "Skip to content"),
    ("switch", "English", "Español"),
    ("login", "Iniciar sesión", "Log in"),
    ("logout", "Cerrar sesión", "Log out"),
    (
        "org",
        "Organización (si su usuario está en varias)",
        "Organisation (if your login is in several)",
    ),
    ("user", "Usuario", "Login"),
    ("password", "Contraseña", "Password"),
    (
        "wrong_login",
        "Usuario o contraseña incorrectos.",
        "Wrong login or password.",
    ),
    (
        "rate_limited",
        "Demasiados intentos fallidos. Vuelva a intentarlo después de",
        "Too many failed attempts. Try again after",
    ),
    (
        "busy",
        "Demasiados inicios de sesión a la vez; inténtelo en un momento.",
        "Too many logins at once; try again in a moment.",
    ),
    (
        "logged_out",
        "Ha cerrado la sesión.",
        "You have logged out.",
    ),
    ("customers", "Clientes", "Customers"),
    ("officer", "Cumplimiento", "Compliance"),
    ("marketing", "Marketing", "Marketing"),
    ("search", "Buscar", "Search"),
    ("search_label", "Nombre o identificador", "Name or id"),
    ("scope", "Mostrar", "Show"),
    ("scope_mine", "Asignados a mí", "Assigned to me"),
    ("scope_all", "Todos los que puedo ver", "All I may see"),
    ("next_page", "Siguiente página", "Next page"),
    (
        "no_customers",
        "Ningún cliente visible con estos criterios.",
        "No visible customer matches.",
    ),
    ("id", "Identificador", "Id"),
    ("name", "Nombre", "Name"),
    ("mine", "Asignado", "Assigned"),
    ("yes", "Sí", "Yes"),
    ("no", "No", "No"),
    (
        "decided",
        "clientes decididos por las reglas para esta página",
        "customers decided by the rules for this page",
    ),
    ("record", "Ficha", "Record"),
    ("identity", "Datos de identificación", "Identity"),
    ("areas", "Áreas", "Areas"),
    ("masked", "Oculto", "Masked"),
    ("locked", "Cerrada con contraseña", "Closed by a password"),
    ("denied", "Sin acceso", "No access"),
    ("why", "¿Por qué?", "Why?"),
    ("notes", "Notas", "Notes"),
    ("empty", "—", "—"),
    ("unlock", "Desbloquear", "Unlock"),
    ("area_password", "Contraseña del área", "Area password"),
    ("unlocked_until", "Desbloqueada hasta", "Unlocked until"),
    (
        "wrong_area_password",
        "Contraseña incorrecta. Intentos restantes:",
        "Wrong password. Attempts left:",
    ),
    ("documents", "Documentos", "Documents"),
    ("title", "Título", "Title"),
    ("download", "Descargar", "Download"),
    ("not_held", "no custodiado", "not held"),
    (
        "no_documents",
        "Ningún documento visible.",
        "No visible document.",
    ),
    ("export", "Exportar", "Export"),
    (
        "export_title",
        "Exportar los datos de este cliente",
        "Export this customer's data",
    ),
    ("purpose", "Finalidad", "Purpose"),
    ("format", "Formato", "Format"),
    ("export_refused", "Exportación denegada", "Export refused"),
    (
        "explanation",
        "Explicación de la decisión",
        "Explanation of the decision",
    ),
    ("decision", "Decisión", "Decision"),
    ("rule", "Regla", "Rule"),
    ("effect", "Efecto", "Effect"),
    ("message", "Motivo", "Reason"),
    (
        "skipped",
        "Reglas que no decidieron",
        "Rules that did not decide",
    ),
    ("back", "Volver", "Back"),
    ("error", "Error", "Error"),
    ("forbidden", "No permitido", "Not allowed"),
    ("not_found", "No encontrado", "Not found"),
    (
        "bad_form",
        "Formulario caducado o incompleto: vuelva a cargar la página e inténtelo de nuevo.",
        "The form expired or is incomplete: reload the page and try again.",
    ),
    (
        "unavailable",
        "No disponible: la operación no pudo registrarse.",
        "Unavailable: the operation could not be recorded.",
    ),
    ("dashboard", "Panel de cumplimiento", "Compliance dashboard"),
    ("chain", "Registro de auditoría", "Audit log"),
    ("chain_events", "eventos", "events"),
    (
        "last_checkpoint",
        "Último punto de control firmado",
        "Last signed checkpoint",
    ),
    ("no_checkpoint", "ninguno todavía", "none yet"),
    ("witnessed", "testigo externo", "external witness"),
    ("chain_checked_now", "Comprobado ahora", "Checked now"),
    (
        "chain_since",
        "desde el punto de control",
        "since checkpoint",
    ),
    (
        "chain_signatures",
        "firmas comprobadas",
        "signatures checked",
    ),
    (
        "chain_broken_at",
        "ROTO en la secuencia",
        "BROKEN at sequence",
    ),
    (
        "chain_run_verify",
        "Compruébelo entero con custodia audit verify.",
        "Check it in full with custodia audit verify.",
    ),
    (
        "pending_actions",
        "Acciones pendientes del dossier",
        "Dossier pending actions",
    ),
    ("nothing_pending", "Nada pendiente.", "Nothing pending."),
    (
        "overdue_reviews",
        "Revisiones de proveedores vencidas",
        "Overdue provider reviews",
    ),
    ("open_breaches", "Brechas abiertas", "Open breaches"),
    ("no_breaches", "Ninguna brecha abierta.", "No open breach."),
    (
        "hours_left",
        "horas para notificar a la AEPD",
        "hours left to notify the AEPD",
    ),
    ("overdue", "plazo vencido", "deadline passed"),
    (
        "audit_search",
        "Buscar en la auditoría",
        "Search the audit log",
    ),
    ("worker", "Trabajador", "Worker"),
    ("customer", "Cliente", "Customer"),
    ("action", "Acción", "Action"),
    ("purged", "Suprimido", "Purged"),
    ("purge", "Suprimir definitivamente", "Purge for good"),
    (
        "purge_hint",
        "Borra los datos del cliente y destruye su clave cuando termina el plazo de conservación (art. 32 LOPDGDD); la dirección queda solo como huella para no volver a escribirle.",
        "Deletes the customer's data and destroys its key once the retention period ends (LOPDGDD art. 32); the address stays only as a keyed hash so they are never mailed again.",
    ),
    (
        "purge_early",
        "Motivo para suprimir antes de que acabe el plazo (opcional)",
        "Reason to purge before the period ends (optional)",
    ),
    ("since", "Desde", "From"),
    ("until", "Hasta", "Until"),
    (
        "time_hint",
        "Fecha y hora UTC, p. ej. 2026-11-26 09:30",
        "UTC date and time, e.g. 2026-11-26 09:30",
    ),
    ("csv", "Descargar CSV", "Download CSV"),
    ("when", "Cuándo", "When"),
    ("kind", "Tipo", "Kind"),
    ("resource", "Recurso", "Resource"),
    ("no_events", "Ningún evento.", "No events."),
    ("breach_wizard", "Asistente de brechas", "Breach wizard"),
    ("breach_step1", "1. Quién y cuándo", "1. Who and when"),
    (
        "breach_step2",
        "2. Clientes afectados",
        "2. Customers touched",
    ),
    (
        "breach_step3",
        "3. Registro de la brecha",
        "3. Breach record",
    ),
    (
        "scope_breach",
        "Buscar clientes afectados",
        "Find the customers touched",
    ),
    ("touched", "clientes afectados", "customers touched"),
    ("breach_id", "Identificador de la brecha", "Breach id"),
    ("detected", "Detectada", "Detected"),
    ("description", "Descripción", "Description"),
    ("record_breach", "Registrar la brecha", "Record the breach"),
    ("breach_recorded", "Brecha registrada.", "Breach recorded."),
    (
        "breach_pdf",
        "Informe de la brecha (PDF)",
        "Breach report (PDF)",
    ),
    (
        "dossier",
        "Dossier de protección de datos",
        "Data-protection dossier",
    ),
    ("preview", "Vista previa", "Preview"),
    ("registers", "Registros", "Registers"),
    ("providers", "Proveedores", "Providers"),
    ("campaigns", "Campañas", "Campaigns"),
    ("new_campaign", "Nueva campaña", "New campaign"),
    ("no_campaigns", "Ninguna campaña.", "No campaigns."),
    ("campaign_id", "Identificador", "Id"),
    ("subject", "Asunto", "Subject"),
    ("from", "Remitente", "From"),
    ("text", "Texto", "Text"),
    ("legal_basis", "Base jurídica", "Legal basis"),
    (
        "similar",
        "Sobre productos similares a los contratados (LSSI-CE art. 21.2)",
        "About products similar to those contracted (LSSI-CE art. 21.2)",
    ),
    ("save", "Guardar", "Save"),
    ("plan", "Plan", "Plan"),
    ("kept", "destinatarios", "recipients"),
    ("excluded", "Excluidos por motivo", "Excluded, by reason"),
    ("sample", "Vista previa para", "Preview for"),
    ("send", "Enviar", "Send"),
    ("stop", "Detener", "Stop"),
    ("progress", "Progreso del envío", "Sending progress"),
    ("finished", "Envío terminado.", "Sending finished."),
    ("sending", "Enviando…", "Sending…"),
    ("opt_outs", "Lista de bajas", "Opt-out list"),
    ("address", "Dirección de correo", "Email address"),
    ("add", "Añadir", "Add"),
    ("date", "Fecha", "Date"),
    ("channel", "Canal", "Channel"),
    ("import_csv", "Importar CSV", "Import CSV"),
    ("file", "Archivo", "File"),
    (
        "import_robinson",
        "Importar lista Robinson",
        "Import a Robinson list",
    ),
    ("imported", "importadas", "imported"),
    ("added", "Añadido.", "Added."),
    ("saved", "Guardado", "Saved"),
    ("edit", "Editar", "Edit"),
    (
        "rights",
        "Derechos de los interesados",
        "Data-subject rights",
    ),
    (
        "rights_due",
        "Solicitudes de derechos por vencer",
        "Rights requests due",
    ),
    ("due", "vence", "due"),
    (
        "open_request",
        "Registrar una solicitud",
        "Record a request",
    ),
    ("received", "Recibida", "Received"),
    (
        "identity_check",
        "Comprobación de identidad",
        "Identity check",
    ),
    ("status", "Estado", "Status"),
    ("answer", "Respuesta", "Answer"),
    ("resolve", "Conceder", "Grant"),
    ("refuse", "Denegar", "Refuse"),
    ("extend", "Ampliar dos meses", "Extend by two months"),
    ("reason", "Motivo", "Reason"),
    ("late", "fuera de plazo", "late"),
    ("no_requests", "Ninguna solicitud.", "No requests."),
    ("entry_toml", "Entrada (TOML)", "Entry (TOML)"),
    (
        "entry_help",
        "Un campo por línea, como en el archivo de la organización; los errores indican la línea y el campo.",
        "One field per line, as in the organisation file; errors name the line and the field.",
    ),
    (
        "opt_out_import",
        "Importar bajas (una dirección por línea)",
        "Import opt-outs (one address per line)",
    ),
    (
        "robinson_text",
        "Lista Robinson descargada (un hash o una dirección por línea)",
        "Downloaded Robinson list (one hash or address per line)",
    ),
    ("downloaded", "Fecha de descarga", "Downloaded on"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_the_templates_use_is_translated() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/templates");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for piece in text.split("lang.t(\"").skip(1) {
                let key = piece.split('"').next().unwrap_or_default();
                if !TEXTS.iter().any(|(k, _, _)| *k == key) {
                    missing.push(key.to_owned());
                }
            }
        }
        assert!(missing.is_empty(), "untranslated: {missing:?}");
    }

    #[test]
    fn the_cookie_wins_over_the_browser_and_spanish_is_the_default() {
        use axum::http::HeaderValue;
        let mut h = HeaderMap::new();
        assert_eq!(Lang::of(&h), Lang::Es);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("en-GB,en;q=0.9"),
        );
        assert_eq!(Lang::of(&h), Lang::En);
        h.insert(header::COOKIE, HeaderValue::from_static("custodia_lang=es"));
        assert_eq!(Lang::of(&h), Lang::Es);
    }
}
