//! The scoreboard in README.md and docs/scoreboard.md against the report,
//! with the sizes Docker itself gives for each image.

use super::*;

/// `gzip -dc FILE`, by the system's gzip.
pub(crate) fn gunzip(file: &Path) -> Vec<u8> {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(file)
        .output()
        .expect("run gzip");
    assert!(out.status.success(), "gzip -dc {}", file.display());
    out.stdout
}

/// The sizes in report.json, against Docker, the system's gzip, and the OCI
/// layout the image code wrote.
pub(crate) fn sizes_are_what_docker_says(run: &Run) {
    for r in rows(run).iter().filter(|r| r["image_bytes"].is_u64()) {
        let tag = image(r);
        let inspect = docker(&["image", "inspect", "--format", "{{.Size}}", tag]);
        assert_eq!(
            String::from_utf8_lossy(&inspect.stdout).trim(),
            r["image_bytes"].to_string(),
            "{tag}: docker image inspect size"
        );
        if r["kind"] == "cheat" {
            assert_eq!(r["gzip_layer_bytes"], 0, "{tag}: no layer");
            continue;
        }
        // One layer holding the one file; the report's gzip of it, undone by
        // the system's gzip, is the layer `docker save` wrote.
        let save = docker(&["save", tag]);
        assert!(save.status.success(), "docker save {tag}");
        let layers = layer_tars(&save.stdout);
        assert_eq!(layers.len(), 1, "{tag}: layers");
        let gz = root().join(r["gzip_layer_file"].as_str().expect("a gzip_layer_file"));
        assert_eq!(
            std::fs::metadata(&gz).unwrap().len(),
            r["gzip_layer_bytes"].as_u64().unwrap(),
            "{tag}: gzipped layer size"
        );
        assert!(
            gunzip(&gz) == layers[0],
            "{tag}: gzip -dc {} is not the layer",
            gz.display()
        );
        assert!(
            layers[0].len() as u64 > r["file_bytes"].as_u64().unwrap(),
            "{tag}: the layer is smaller than the file"
        );
    }
    // Ours: the pull size is the manifest, config and layer of the row's OCI layout.
    for r in rows(run).iter().filter(|r| r["kind"] == "ours") {
        let id = r["id"].as_str().unwrap();
        let oci = root().join(r["oci_layout"].as_str().expect("an oci_layout"));
        let blob = |digest: &str| {
            std::fs::read(
                oci.join("blobs/sha256")
                    .join(digest.trim_start_matches("sha256:")),
            )
            .unwrap_or_else(|e| panic!("{id}: blob {digest}: {e}"))
        };
        let index: Value =
            serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
        let image_index: Value =
            serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap()))
                .unwrap();
        let m = &image_index["manifests"][0];
        assert_eq!(m["platform"]["os"], "linux", "{id}: the index's platform");
        let manifest_bytes = blob(m["digest"].as_str().unwrap());
        assert_eq!(
            manifest_bytes.len() as u64,
            m["size"].as_u64().unwrap(),
            "{id}: manifest size"
        );
        let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
        let mut pull = manifest_bytes.len() as u64;
        for d in std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap())
        {
            let b = blob(d["digest"].as_str().unwrap());
            assert_eq!(b.len() as u64, d["size"].as_u64().unwrap(), "{id}: {d}");
            pull += b.len() as u64;
        }
        assert_eq!(Some(pull), r["pull_bytes"].as_u64(), "{id}: pull bytes");
        // The layer, decompressed by the system's gzip, holds the row's file.
        let layer = oci.join("blobs/sha256").join(
            manifest["layers"][0]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:"),
        );
        let tar = gunzip(&layer);
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&tar[124..135]).trim_matches(|c: char| c == '\0' || c == ' '),
            8,
        )
        .unwrap();
        assert_eq!(&tar[..6], b"hello\0", "{id}: the layer's entry");
        assert_eq!(
            tar[512..512 + size],
            std::fs::read(file_of(r)).unwrap()[..],
            "{id}: the layer's file"
        );
    }
}

/// The layer tars of a `docker save` archive, in manifest order.
pub(crate) fn layer_tars(tar: &[u8]) -> Vec<Vec<u8>> {
    let mut files = std::collections::HashMap::new();
    let mut pos = 0;
    while pos + 512 <= tar.len() && tar[pos] != 0 {
        let h = &tar[pos..pos + 512];
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&h[124..135]).trim_matches(|c: char| c == '\0' || c == ' '),
            8,
        )
        .unwrap();
        files.insert(name, tar[pos + 512..pos + 512 + size].to_vec());
        pos += 512 + size.div_ceil(512) * 512;
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| files[l.as_str().unwrap()].clone())
        .collect()
}

/// The cells of a Markdown table's rows (after the header and separator).
pub(crate) fn table_cells(lines: &[&str]) -> Vec<Vec<String>> {
    lines
        .iter()
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .map(|l| {
            l.trim()
                .trim_start_matches("| ")
                .trim_end_matches(" |")
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The committed README block agrees with report.json, row by row: the sizes,
/// the published figures, whether each image runs, and every verdict cell.
#[test]
pub(crate) fn readme_scoreboard_matches_the_report() {
    let Some(run) = report() else { return };
    let paste = || {
        format!(
            "Replace the lines between <!-- BEGIN scoreboard --> and <!-- END scoreboard --> in docs/scoreboard.md (or run `cargo xtask report --update-docs`) with:\n{}",
            run.block
        )
    };
    let lines: Vec<&str> = run.committed_block.lines().collect();
    let sizes = table_cells(&lines);
    assert_eq!(
        sizes.len(),
        rows(run).len(),
        "docs/scoreboard.md scoreboard rows. {}",
        paste()
    );
    for (cells, r) in sizes.iter().zip(rows(run)) {
        let num = |k: &str| r[k].as_u64().map_or("-".to_string(), |v| v.to_string());
        let why = r["reason"].as_str().unwrap_or("");
        let runs = match r["status"].as_str().unwrap() {
            "prints" => "yes".to_string(),
            "fails" => format!("no: {why}"),
            _ => why.to_string(),
        };
        let want = [
            r["label"].as_str().unwrap().to_string(),
            r["platform"].as_str().unwrap().to_string(),
            num("file_bytes"),
            num("image_bytes"),
            num("gzip_layer_bytes"),
            num("pull_bytes"),
            r["published"]["text"].as_str().unwrap_or("").to_string(),
            runs,
            r["well_behaved"].as_str().unwrap().to_string(),
        ];
        assert_eq!(
            cells[..],
            want[..],
            "docs/scoreboard.md scoreboard row {cells:?}. {}",
            paste()
        );
    }
    // The verdict table: one row per contender with a verdict, every cell as report.json has it.
    let start = lines
        .iter()
        .position(|l| l.starts_with("| contender | 1."))
        .unwrap_or_else(|| {
            panic!(
                "docs/scoreboard.md scoreboard has no verdict table. {}",
                paste()
            )
        });
    let verdicts = table_cells(&lines[start..]);
    let keys: Vec<&str> = run.json["checks_made"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    let with: Vec<&Value> = rows(run)
        .iter()
        .filter(|r| r["verdict"].is_object())
        .collect();
    assert_eq!(
        verdicts.len(),
        with.len(),
        "docs/scoreboard.md verdict rows. {}",
        paste()
    );
    for (cells, r) in verdicts.iter().zip(with) {
        let mut want = vec![r["label"].as_str().unwrap().to_string()];
        want.extend(
            keys.iter()
                .map(|k| r["verdict"][k].as_str().unwrap().to_string()),
        );
        assert_eq!(cells, &want, "docs/scoreboard.md verdict row. {}", paste());
        // Well-behaved is all seven.
        let all = keys.iter().all(|k| r["verdict"][k] == "yes");
        assert_eq!(all, r["well_behaved"] == "yes", "{}", r["id"]);
    }
    assert_eq!(
        run.committed_block,
        run.block,
        "docs/scoreboard.md scoreboard. {}",
        paste()
    );
}
