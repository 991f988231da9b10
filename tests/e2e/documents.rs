//! Documents held by Custodia: imported from a folder by a mapping,
//! sealed in the blob store, downloaded only as the rules allow.

use std::path::Path;

use custodia_engine::Backend;
use sha2::{Digest, Sha256};

use crate::{Custodia, on_both_backends};

const MAPPING: &str = r#"
ignore = ["*.tmp"]

[[rules]]
pattern = "{customer}/contratos/{title}.txt"
type = "contract"
area = "administrative"

[[rules]]
pattern = "{customer}/escritos/{title}.txt"
type = "court-filing"
area = "case-file"

[[rules]]
pattern = "{customer}/facturas/{title}.txt"
type = "invoice"
area = "financial"
"#;

const CONTRACT: &str =
    "Hoja de encargo profesional entre María López García y Bufete Ruiz, honorarios 2.400 euros";
const FILING: &str =
    "Escrito de medidas provisionales: pensión compensatoria y uso de la vivienda familiar";
const INVOICE: &str = "Factura 2026-0042 a nombre de Jorge Sanz Prieto por asesoramiento laboral";

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
    std::fs::write(path, text).expect("file");
}

/// The id an import gives a file: its customer and a hash of its path.
fn id_of(customer: &str, relative: &str) -> String {
    format!(
        "D-{customer}-{}",
        hex::encode(&Sha256::digest(relative.as_bytes())[..5])
    )
}

fn folder(c: &Custodia) -> std::path::PathBuf {
    let root = c.path("expedientes");
    write(&root, "C-1001/contratos/hoja-de-encargo.txt", CONTRACT);
    write(&root, "C-1001/escritos/demanda.txt", FILING);
    write(&root, "C-1002/facturas/factura-42.txt", INVOICE);
    write(&root, "C-1001/contratos/borrador.tmp", "ignored");
    std::fs::write(c.path("mapping.toml"), MAPPING).expect("mapping");
    root
}

on_both_backends! {
fn documents_are_imported_sealed_and_downloaded_only_as_the_rules_allow(backend) {
    let c = Custodia::demo(backend);
    let root = folder(&c);
    let documents = || c.count("SELECT COUNT(*) FROM documents WHERE org = 'bufete-ruiz'");
    let before = documents();
    let root_text = root.display().to_string();
    let out = c.ok(&["documents", "import", "--org", "bufete-ruiz", &root_text, "--map", "mapping.toml"]);
    assert!(out.contains("sealed 3 documents") && out.contains("1 files ignored"), "{out}");
    assert_eq!(documents(), before + 3);

    // The blobs hold no document text.
    let mut blobs = Vec::new();
    // Beside the SQLite file, or `custodia-blobs` in the working folder.
    let folder = match backend {
        Backend::Sqlite => "custodia.db.blobs",
        Backend::Postgres => "custodia-blobs",
    };
    for dir in std::fs::read_dir(c.path(folder)).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(dir.path()).expect("blob folder").flatten() {
            blobs.extend(std::fs::read(file.path()).expect("blob"));
        }
    }
    if backend == Backend::Sqlite {
        blobs.extend(std::fs::read(c.path("custodia.db")).expect("db"));
    }
    assert!(blobs.len() > 3 * 80, "three sealed blobs: {}", blobs.len());
    let dump = String::from_utf8_lossy(&blobs);
    for text in [CONTRACT, FILING, INVOICE] {
        assert!(!dump.contains(&text[..30]), "in clear: {text}");
    }

    // The lawyer in charge downloads the contract, byte for byte.
    let contract = id_of("C-1001", "C-1001/contratos/hoja-de-encargo.txt");
    c.ok(&["download", "--worker", "ana", "--document", &contract, "-o", "contrato.txt"]);
    assert_eq!(std::fs::read_to_string(c.path("contrato.txt")).expect("written"), CONTRACT);
    assert_eq!(c.count(&format!("SELECT COUNT(*) FROM audit_events WHERE kind = 'download' AND worker = 'ana' AND document = '{contract}' AND detail LIKE '%contrato.txt%'")), 1);

    // The assistant may not download it: refused, nothing written, no path shown.
    let err = c.fails(&["download", "--worker", "luis", "--document", &contract, "-o", "luis.txt"]);
    assert!(err.contains("may not download"), "{err}");
    assert!(!err.contains("expedientes") && !err.contains("hoja-de-encargo"), "no path: {err}");
    assert!(!c.path("luis.txt").exists());
    // The court filing sits in a password-closed area: closed until unlocked.
    let filing = id_of("C-1001", "C-1001/escritos/demanda.txt");
    let err = c.fails(&["download", "--worker", "ana", "--document", &filing, "-o", "demanda.txt"]);
    assert!(err.contains("closed by a password"), "{err}");
    assert_eq!(c.count(&format!("SELECT COUNT(*) FROM audit_events WHERE kind = 'decision' AND action = 'download' AND document = '{filing}' AND decision = 'deny'")), 1);
}
}

#[test]
fn a_mapping_error_names_the_file_and_imports_nothing() {
    let c = Custodia::demo(Backend::Sqlite);
    let root = folder(&c);
    write(&root, "C-1001/otros/nota.txt", "sin regla");
    let documents = || c.count("SELECT COUNT(*) FROM documents WHERE org = 'bufete-ruiz'");
    let before = documents();
    let root_text = root.display().to_string();
    let import = |mapping: &str| {
        c.fails(&[
            "documents",
            "import",
            "--org",
            "bufete-ruiz",
            &root_text,
            "--map",
            mapping,
        ])
    };
    let err = import("mapping.toml");
    assert!(
        err.contains("C-1001/otros/nota.txt") && err.contains("matches no rule"),
        "{err}"
    );
    assert_eq!(documents(), before, "nothing half-imported");
    std::fs::remove_file(root.join("C-1001/otros/nota.txt")).expect("remove");
    write(&root, "C-9999/contratos/x.txt", "cliente inexistente");
    let err = import("mapping.toml");
    assert!(
        err.contains("C-9999/contratos/x.txt") && err.contains("customer `C-9999` does not exist"),
        "{err}"
    );
    assert_eq!(documents(), before);
    std::fs::write(c.path("bad.toml"), "[[rules]]\npattern = 3\n").expect("mapping");
    let err = import("bad.toml");
    assert!(err.contains("bad.toml") && err.contains("line 2"), "{err}");
}

/// The cells of the first sheet of an xlsx file, as text.
fn xlsx_cells(path: &Path) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(path).expect("an xlsx file");
    let range = book.worksheet_range("export").expect("the export sheet");
    range
        .rows()
        .map(|row| row.iter().map(ToString::to_string).collect())
        .collect()
}

on_both_backends! {
fn an_export_carries_only_what_the_worker_sees_and_a_watermark(backend) {
    let c = Custodia::demo(backend);
    let exports = || c.count("SELECT COUNT(*) FROM audit_events WHERE org = 'bufete-ruiz' AND kind = 'export' AND worker = 'ana' AND detail LIKE '%purpose:%'");
    c.ok(&["data", "export", "--worker", "ana", "--customers", "C-1001", "--format", "xlsx",
        "--purpose", "entrega al procurador", "-o", "ana.xlsx"]);
    let cells = xlsx_cells(&c.path("ana.xlsx"));
    let watermark = &cells[0][0];
    assert!(watermark.contains("Exported by ana") && watermark.contains("entrega al procurador") && watermark.contains("UTC"), "{watermark}");
    let header = &cells[1];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name} in {header:?}"));
    assert_eq!(cells[2][column("customer")], "C-1001");
    assert_eq!(cells[2][column("tax_id")], "12345678Z");
    assert!(cells[2][column("personal.marital_status")].len() > 3);
    assert!(!header.iter().any(|h| h.starts_with("case-file.")), "a locked area stays out: {header:?}");
    assert_eq!(exports(), 1);
    assert!(c.count("SELECT COUNT(*) FROM audit_events WHERE kind = 'export' AND detail LIKE '%purpose: entrega al procurador%'") == 1);

    // The assistant has no export right: non-zero exit, nothing written.
    let err = c.fails(&["data", "export", "--worker", "luis", "--customers", "C-1001", "--format", "xlsx",
        "--purpose", "x", "-o", "luis.xlsx"]);
    assert!(err.contains("may not export"), "{err}");
    assert!(!c.path("luis.xlsx").exists());

    // CSV: the watermark as the first line, masked values never written.
    c.ok(&["data", "export", "--worker", "ana", "--format", "csv", "--purpose", "auditoría interna", "-o", "all.csv"]);
    let text = std::fs::read_to_string(c.path("all.csv")).expect("csv");
    assert!(text.starts_with("# Exported by ana"), "{text}");
    assert!(text.contains("C-1001"));
    assert!(!text.contains("C-1002"), "only customers ana may export: ana is not on C-1002");
}
}

on_both_backends! {
fn a_backup_restores_checks_and_records_its_check_and_a_corrupted_one_fails(backend) {
    let c = Custodia::demo(backend);
    let root = folder(&c);
    let root_text = root.display().to_string();
    c.ok(&["documents", "import", "--org", "bufete-ruiz", &root_text, "--map", "mapping.toml"]);
    let out = c.ok(&["backup", "-o", "store.cbk"]);
    assert!(out.contains("3 blobs"), "{out}");
    let sealed = std::fs::read(c.path("store.cbk")).expect("backup");
    assert!(!String::from_utf8_lossy(&sealed).contains("12345678Z"), "the backup is sealed");

    let out = c.ok(&["backup", "check", "store.cbk"]);
    assert!(out.contains("backup restores") && out.contains("3 documents opened"), "{out}");
    assert_eq!(c.count("SELECT COUNT(*) FROM register_entries WHERE org = 'bufete-ruiz' AND kind = 'backup' AND id LIKE 'backup-20%' AND body LIKE '%\"restore_ok\":true%'"), 1);

    // Restore into a new, empty store of the same backend, with the same keys.
    let target = Custodia::new(backend);
    let key = c.path("custodia.db.master-key");
    let key = if key.exists() { key } else { c.path("custodia-master.key") };
    let restore = target
        .command()
        .arg("--master-key")
        .arg(&key)
        .args(["restore", c.path("store.cbk").to_str().expect("path")])
        .output()
        .expect("run");
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    let tables = ["customers", "vault_items", "documents", "audit_events", "register_entries"];
    for table in tables {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE org = 'bufete-ruiz'");
        let (before, after) = (c.count(&sql), target.count(&sql));
        // After the snapshot: the backup's own export event, then the
        // check's register entry with its event.
        let expected = match table {
            "audit_events" => before - 2,
            "register_entries" => before - 1,
            _ => before,
        };
        assert_eq!(after, expected, "{table}: {after} restored, {before} now");
    }
    let again = target
        .command()
        .arg("--master-key")
        .arg(&key)
        .args(["restore", c.path("store.cbk").to_str().expect("path")])
        .output()
        .expect("run");
    assert!(!again.status.success(), "a restore never writes over data");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));

    // A corrupted backup fails its check with the reason.
    let mut broken = sealed.clone();
    let middle = broken.len() / 2;
    broken[middle] ^= 0x40;
    std::fs::write(c.path("broken.cbk"), &broken).expect("write");
    let err = c.fails(&["backup", "check", "broken.cbk"]);
    assert!(err.contains("corrupted"), "{err}");
    std::fs::write(c.path("short.cbk"), &sealed[..40]).expect("write");
    let err = c.fails(&["backup", "check", "short.cbk"]);
    assert!(err.contains("corrupted") || err.contains("truncated"), "{err}");
}
}

/// The S3-compatible server `./test.sh` starts (moto).
fn s3_endpoint() -> String {
    std::env::var("CUSTODIA_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!("CUSTODIA_TEST_S3_ENDPOINT is not set: run ./test.sh, which starts moto's S3 server")
    })
}

#[test]
fn documents_live_sealed_in_an_s3_bucket_when_asked() {
    let endpoint = s3_endpoint();
    let c = Custodia::demo(Backend::Sqlite);
    let bucket = format!("custodia-{}", std::process::id());
    let addr = endpoint.trim_start_matches("http://");
    let (status, body) =
        crate::http(addr, "PUT", &format!("/{bucket}"), None).expect("moto answers");
    assert_eq!(status, 200, "bucket created: {body}");
    let root = folder(&c);
    let root_text = root.display().to_string();
    let blobs = format!("s3://{bucket}/docs");
    let with_s3 = |args: &[&str]| {
        c.command()
            .arg("--blobs")
            .arg(&blobs)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true")
            .args(args)
            .output()
            .expect("run")
    };
    let out = with_s3(&[
        "documents",
        "import",
        "--org",
        "bufete-ruiz",
        &root_text,
        "--map",
        "mapping.toml",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !c.path("custodia.db.blobs").exists(),
        "nothing in the local folder"
    );
    // The objects are in the bucket, sealed.
    let (status, listing) =
        crate::http(addr, "GET", &format!("/{bucket}?list-type=2"), None).expect("list");
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing.matches("<Key>docs/").count(), 3, "{listing}");
    let contract = id_of("C-1001", "C-1001/contratos/hoja-de-encargo.txt");
    let out = with_s3(&[
        "download",
        "--worker",
        "ana",
        "--document",
        &contract,
        "-o",
        "s3.txt",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(c.path("s3.txt")).expect("written"),
        CONTRACT
    );
    let out = with_s3(&[
        "download",
        "--worker",
        "luis",
        "--document",
        &contract,
        "-o",
        "no.txt",
    ]);
    assert!(!out.status.success() && !c.path("no.txt").exists());
}

#[test]
fn the_api_serves_a_document_only_to_a_worker_allowed_to_download_it() {
    let c = Custodia::demo(Backend::Sqlite);
    let root = folder(&c);
    let root_text = root.display().to_string();
    c.ok(&[
        "documents",
        "import",
        "--org",
        "bufete-ruiz",
        &root_text,
        "--map",
        "mapping.toml",
    ]);
    let (child, addr) = crate::crash::start_server_with(&c, &[]);
    let _server = crate::Helper(child);
    let contract = id_of("C-1001", "C-1001/contratos/hoja-de-encargo.txt");
    let path = format!("/v1/documents/{contract}");
    let ana = crate::crash::login(&addr, "ana", "demo-ana");
    let (status, body) = crate::http_auth(&addr, "GET", &path, None, Some(&ana)).expect("answer");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, CONTRACT);
    let luis = crate::crash::login(&addr, "luis", "demo-luis");
    let (status, body) = crate::http_auth(&addr, "GET", &path, None, Some(&luis)).expect("answer");
    assert_eq!(status, 403, "{body}");
    assert!(
        !body.contains("expedientes") && !body.contains(CONTRACT),
        "{body}"
    );
    let (status, _) = crate::http(&addr, "GET", &path, None).expect("answer");
    assert_eq!(status, 401, "no session, no document");
}
