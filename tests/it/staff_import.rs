//! Importing what staff send: every format (Excel- and WPS-made workbooks,
//! CSV in UTF-8, UTF-8 with BOM, GBK and UTF-16, JSON lines, topic TOML),
//! every validation error with its row and column, refusals of whole files,
//! idempotent re-import and export → import round trips.

use safety_bot::export::{self, ExportFormat};
use safety_bot::knowledge::Entry;
use safety_bot::sheet::{FileError, MAX_FILE_BYTES, MAX_ROWS};
use safety_bot::staff::{ImportOptions, StaffError};
use safety_bot::store::StoreError;

use crate::sheets::{
    Cell, HEADER, csv, good_row, import, import_with, options, row, staff, wps_like_xlsx, xlsx,
};

/// The fixture has 11 entries.
const FIXTURE_ENTRIES: usize = 11;

#[track_caller]
fn assert_counts(
    report: &safety_bot::staff::ImportReport,
    added: usize,
    updated: usize,
    unchanged: usize,
    rejected: usize,
) {
    assert_eq!(
        (
            report.added,
            report.updated,
            report.unchanged,
            report.rejected
        ),
        (added, updated, unchanged, rejected),
        "{}",
        report.text(50)
    );
}

// ---------------------------------------------------------------------------
// Formats.

#[test]
fn an_excel_workbook_is_imported() {
    let staff = staff();
    let rows = vec![good_row(1), good_row(2)];
    let report = import(&staff, "问答.xlsx", xlsx(&HEADER, &rows));
    assert!(report.written);
    assert_counts(&report, 2, 0, 0, 0);
    let entries = staff.store().active_entries().unwrap();
    assert_eq!(entries.len(), FIXTURE_ENTRIES + 2);
    let added = entries
        .iter()
        .find(|e| e.question == "第1号燃气表漏气找谁修")
        .unwrap();
    assert_eq!(added.alternates, ["燃气表1坏了", "表1漏气打哪个电话"]);
    assert_eq!(added.keywords, ["燃气表", "抢修"]);
    assert_eq!(added.reviewed, "2026-06-01");
    assert!(added.id.starts_with("gas-q"), "{}", added.id);
}

#[test]
fn a_workbook_shaped_like_wps_output_is_imported() {
    use Cell::*;
    let rows = vec![
        vec![Inline("2026年安全宣传咨询日问答"), Inline(""), Inline("")],
        vec![
            Shared("编号"),
            Shared("分类（必填）"),
            Shared("问题（必填）"),
            Shared("相似问法（每行一个）"),
            Shared("*答案"),
            Shared("关键词"),
            Shared("来源"),
            Shared("审核日期"),
            Shared("备注"),
        ],
        vec![
            Inline(""),
            Shared("燃气安全"),
            Inline("咨询日能免费检测燃气报警器吗"),
            Inline("报警器能拿去现场测吗|现场检测报警器要钱吗"),
            Inline("可以，燃气公司在现场设有检测台。"),
            Inline(""),
            Shared("本市燃气公司"),
            // 2026-06-16 as Excel's serial day number, styled as a date.
            Date(46189.0),
            Inline("王科长补充"),
        ],
        vec![
            Inline("campaign-parking"),
            Shared("安全生产月与宣传活动"),
            Inline("去咨询日现场怎么停车"),
            Inline(""),
            Inline("建议乘坐公交地铁，自驾请停公共停车场，不要占用消防通道。"),
            Inline(""),
            Shared("市安委会办公室"),
            Inline("2026/6/1"),
        ],
    ];
    let staff = staff();
    let report = import(&staff, "咨询日.xlsx", wps_like_xlsx(&rows));
    assert_counts(&report, 2, 0, 0, 0);
    assert_eq!(
        report.ignored_columns,
        [("咨询日.xlsx".to_string(), vec!["备注".to_string()])]
    );
    let parking = staff
        .store()
        .stored_entry("campaign-parking")
        .unwrap()
        .unwrap();
    assert_eq!(parking.entry.reviewed, "2026-06-01");
    let detector = staff
        .store()
        .active_entries()
        .unwrap()
        .into_iter()
        .find(|e| e.question == "咨询日能免费检测燃气报警器吗")
        .unwrap();
    assert_eq!(detector.reviewed, "2026-06-16");
    assert_eq!(detector.alternates.len(), 2);
}

#[test]
fn error_cells_are_reported_with_row_and_column() {
    use Cell::*;
    let rows = vec![
        vec![Inline("标题")],
        HEADER.iter().map(|h| Inline(h)).collect(),
        vec![
            Inline(""),
            Inline("燃气安全"),
            Inline("燃气表漏气找谁修"),
            Inline(""),
            Error("#N/A"),
            Inline(""),
            Inline("燃气公司"),
        ],
        vec![
            Inline(""),
            Inline("燃气安全"),
            Number(12.0),
            Inline(""),
            Inline("答"),
            Inline(""),
            Inline("源"),
        ],
    ];
    let staff = staff();
    let report = import(&staff, "wps.xlsx", wps_like_xlsx(&rows));
    assert!(!report.written);
    let lines: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert!(
        lines.contains(&"wps.xlsx 第 3 行“答案”列：单元格是错误值 #N/A，请改成文字".to_string()),
        "{lines:?}"
    );
    // A number where a question belongs is read as its digits, not refused.
    assert_eq!(report.rejected, 1, "{lines:?}");
}

#[test]
fn csv_in_every_encoding_excel_and_wps_save() {
    let rows = vec![good_row(1), good_row(2)];
    let text = csv(&HEADER, &rows);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    // Excel's "Unicode text": UTF-16 with a BOM, tab-separated.
    let tabbed = text.replace("\",\"", "\"\t\"");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(tabbed.encode_utf16().flat_map(|u| u.to_le_bytes()));
    for (label, bytes) in [
        ("UTF-8", text.as_bytes().to_vec()),
        ("UTF-8 BOM", bom),
        ("GBK", gbk.into_owned()),
        ("UTF-16", utf16),
    ] {
        let staff = staff();
        let report = import(&staff, "问答.csv", bytes);
        assert_counts(&report, 2, 0, 0, 0);
        let questions: Vec<String> = staff
            .store()
            .active_entries()
            .unwrap()
            .into_iter()
            .map(|e| e.question)
            .collect();
        assert!(
            questions.contains(&"第2号燃气表漏气找谁修".to_string()),
            "{label}"
        );
    }
}

#[test]
fn json_lines_and_topic_toml_are_imported() {
    let staff = staff();
    let entry = Entry {
        id: "gas-meter-who".to_string(),
        category: "燃气安全".to_string(),
        question: "燃气表漏气找谁修".to_string(),
        alternates: vec!["燃气表坏了找谁".to_string()],
        answer: "拨打燃气公司抢修电话。".to_string(),
        keywords: vec![],
        source: "本市燃气公司".to_string(),
        reviewed: String::new(),
    };
    let mut jsonl = serde_json::to_string(&entry).unwrap();
    jsonl.push_str("\n\n");
    let report = import(&staff, "entries.jsonl", jsonl.into_bytes());
    assert_counts(&report, 1, 0, 0, 0);
    assert_eq!(
        staff
            .store()
            .stored_entry("gas-meter-who")
            .unwrap()
            .unwrap()
            .entry,
        entry
    );

    let toml = r#"
category = "用电安全"

[[entry]]
id = "elec-rental-wiring"
question = "出租屋可以私拉电线吗？"
alternates = ["租的房子能自己接电线吗"]
answer = "不可以。私拉乱接电线容易过载起火，请找房东或物业安排持证电工处理。"
source = "应急管理部安全用电提示"
reviewed = 2026-06-01
"#;
    let report = import(&staff, "elec.toml", toml.as_bytes().to_vec());
    assert_counts(&report, 1, 0, 0, 0);
    let stored = staff
        .store()
        .stored_entry("elec-rental-wiring")
        .unwrap()
        .unwrap();
    assert_eq!(stored.entry.category, "用电安全");
    assert_eq!(stored.entry.reviewed, "2026-06-01");
}

#[test]
fn a_workbook_named_csv_is_read_as_a_workbook() {
    let staff = staff();
    let report = import(&staff, "导出.csv", xlsx(&HEADER, &[good_row(1)]));
    assert_counts(&report, 1, 0, 0, 0);
}

// ---------------------------------------------------------------------------
// Validation: each case is rows in, the problems expected out.

/// Imports `rows` (after the template header) as CSV and checks that it is
/// refused with exactly these problems, as (row, column, part of message).
#[track_caller]
fn check_rejected(rows: Vec<Vec<String>>, expected: &[(usize, &str, &str)]) {
    let staff = staff();
    let report = import(&staff, "faq.csv", csv(&HEADER, &rows).into_bytes());
    assert!(!report.written, "{}", report.text(50));
    assert_eq!(
        staff.store().active_entries().unwrap().len(),
        FIXTURE_ENTRIES
    );
    let got: Vec<(String, Option<String>, String)> = report
        .errors
        .iter()
        .map(|e| (e.place.clone(), e.column.clone(), e.message.clone()))
        .collect();
    assert_eq!(got.len(), expected.len(), "{got:#?}");
    for ((place, column, message), (row, want_column, want_message)) in got.iter().zip(expected) {
        assert_eq!(place, &format!("第 {row} 行"), "{got:#?}");
        assert_eq!(column.as_deref(), Some(*want_column), "{got:#?}");
        assert!(
            message.contains(want_message),
            "{message} lacks {want_message}"
        );
    }
    assert!(
        report.summary().starts_with("没有导入任何内容"),
        "{}",
        report.summary()
    );
}

#[test]
fn a_missing_answer_is_reported() {
    check_rejected(
        vec![row("", "燃气安全", "燃气表在哪", "", "燃气公司")],
        &[(2, "答案", "缺少答案")],
    );
}

#[test]
fn a_missing_source_is_reported() {
    check_rejected(
        vec![
            good_row(1),
            row("", "燃气安全", "燃气表在哪", "在厨房。", ""),
        ],
        &[(3, "来源", "缺少来源")],
    );
}

#[test]
fn a_missing_question_is_reported() {
    check_rejected(
        vec![row("gas-empty", "燃气安全", "", "答案。", "燃气公司")],
        &[(2, "问题", "缺少问题")],
    );
}

#[test]
fn an_answer_over_the_limit_is_reported() {
    check_rejected(
        vec![row(
            "",
            "燃气安全",
            "燃气表在哪",
            &"很长".repeat(501),
            "燃气公司",
        )],
        &[(2, "答案", "答案过长：1002 字，上限 1000 字")],
    );
}

#[test]
fn an_unknown_category_is_reported() {
    check_rejected(
        vec![row("", "天气", "明天下雨吗", "不知道。", "气象台")],
        &[(2, "分类", "未知分类“天气”")],
    );
}

#[test]
fn a_question_duplicating_a_stored_entry_is_reported() {
    check_rejected(
        vec![row(
            "",
            "燃气安全",
            "燃气报警器应该装在什么位置",
            "装在高处。",
            "燃气公司",
        )],
        &[(
            2,
            "问题",
            "问题与已有条目 gas-alarm（燃气报警器应该装在什么位置？）重复；要修改那个条目，请在“编号”列填 gas-alarm",
        )],
    );
}

#[test]
fn a_question_duplicating_another_row_is_reported() {
    check_rejected(
        vec![
            row(
                "gas-a",
                "燃气安全",
                "燃气表漏气找谁修",
                "抢修电话。",
                "燃气公司",
            ),
            row(
                "gas-b",
                "燃气安全",
                "燃气表漏气，找谁修？",
                "抢修电话。",
                "燃气公司",
            ),
        ],
        &[(3, "问题", "问题与第 2 行重复")],
    );
}

#[test]
fn a_repeated_id_is_reported() {
    check_rejected(
        vec![
            row(
                "gas-a",
                "燃气安全",
                "燃气表漏气找谁修",
                "抢修电话。",
                "燃气公司",
            ),
            row("gas-a", "燃气安全", "燃气表在哪", "在厨房。", "燃气公司"),
        ],
        &[(3, "编号", "编号与第 2 行重复")],
    );
}

#[test]
fn an_invalid_id_and_a_bad_date_are_reported() {
    let mut bad = row(
        "Gas Meter",
        "燃气安全",
        "燃气表在哪",
        "在厨房。",
        "燃气公司",
    );
    bad[7] = "下周一".to_string();
    check_rejected(
        vec![bad],
        &[
            (2, "编号", "编号“Gas Meter”无效"),
            (2, "审核日期", "应写成 YYYY-MM-DD"),
        ],
    );
}

#[test]
fn every_problem_of_a_row_is_listed() {
    check_rejected(
        vec![good_row(1), row("", "天气", "", "", "")],
        &[
            (3, "分类", "未知分类"),
            (3, "问题", "缺少问题"),
            (3, "答案", "缺少答案"),
            (3, "来源", "缺少来源"),
        ],
    );
}

#[test]
fn json_line_problems_name_the_line_and_field() {
    let staff = staff();
    let lines = concat!(
        "{\"id\":\"gas-x\",\"category\":\"燃气安全\",\"question\":\"燃气表在哪\",\"answer\":\"厨房\",\"source\":\"燃气公司\"}\n",
        "{not json\n",
        "[1,2]\n",
        "{\"id\":\"gas-y\",\"category\":\"燃气安全\",\"question\":\"燃气表多久检修\",\"alternates\":[1],\"answer\":\"一年\",\"source\":\"燃气公司\"}\n",
    );
    let report = import(&staff, "x.jsonl", lines.as_bytes().to_vec());
    let got: Vec<String> = report.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "x.jsonl 第 2 行：不是有效的 JSON（第 2 列附近）",
            "x.jsonl 第 3 行：这一行不是一个条目（应为 {\"id\": …, \"question\": …} 形式的对象）",
            "x.jsonl 第 4 行“alternates”列：列表里只能是文字",
        ]
    );
    assert_eq!(report.rejected, 3);
}

#[test]
fn with_skip_invalid_the_valid_rows_are_imported() {
    let staff = staff();
    let rows = vec![
        good_row(1),
        row("", "天气", "明天下雨吗", "不知道。", "气象台"),
        good_row(2),
    ];
    let report = import_with(
        &staff,
        vec![("faq.csv", csv(&HEADER, &rows).into_bytes())],
        &ImportOptions {
            skip_invalid: true,
            ..options()
        },
    );
    assert!(report.written);
    assert_counts(&report, 2, 0, 0, 1);
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.summary().starts_with("导入完成"),
        "{}",
        report.summary()
    );
    assert_eq!(
        staff.store().active_entries().unwrap().len(),
        FIXTURE_ENTRIES + 2
    );
}

#[test]
fn files_are_all_or_nothing_together() {
    let staff = staff();
    let good = xlsx(&HEADER, &[good_row(1)]);
    let bad = csv(
        &HEADER,
        &[row("", "燃气安全", "燃气表在哪", "", "燃气公司")],
    );
    let report = import_with(
        &staff,
        vec![("good.xlsx", good), ("bad.csv", bad.into_bytes())],
        &options(),
    );
    assert!(!report.written);
    assert_eq!(report.errors[0].file, "bad.csv");
    assert_eq!(
        staff.store().active_entries().unwrap().len(),
        FIXTURE_ENTRIES
    );
}

#[test]
fn a_dry_run_reports_without_writing() {
    let staff = staff();
    let report = import_with(
        &staff,
        vec![("faq.xlsx", xlsx(&HEADER, &[good_row(1)]))],
        &ImportOptions {
            dry_run: true,
            ..options()
        },
    );
    assert_counts(&report, 1, 0, 0, 0);
    assert!(!report.written);
    assert!(report.summary().starts_with("检查完毕（未写入）"));
    assert_eq!(
        staff.store().active_entries().unwrap().len(),
        FIXTURE_ENTRIES
    );
}

// ---------------------------------------------------------------------------
// Whole files refused.

#[track_caller]
fn check_refused(name: &str, bytes: Vec<u8>, expected: FileError) {
    let staff = staff();
    let report = import(&staff, name, bytes);
    assert!(!report.written);
    assert_eq!(report.refused.len(), 1, "{}", report.text(10));
    assert_eq!(report.refused[0].1, expected, "{}", report.refused[0].1);
    assert!(!report.refused[0].1.to_string().is_empty());
}

#[test]
fn oversized_files_are_refused() {
    check_refused(
        "big.csv",
        vec![b'a'; MAX_FILE_BYTES + 1],
        FileError::TooLarge {
            size: MAX_FILE_BYTES + 1,
            limit: MAX_FILE_BYTES,
        },
    );
    let mut rows = csv(&HEADER, &[]);
    for n in 0..MAX_ROWS + 1 {
        rows.push_str(&format!(",燃气安全,问题{n},,答,,源,\r\n"));
    }
    let staff = staff();
    let report = import(&staff, "many.csv", rows.into_bytes());
    assert!(
        matches!(report.refused[0].1, FileError::TooManyRows { .. }),
        "{:?}",
        report.refused
    );
}

#[test]
fn password_protected_and_legacy_workbooks_are_refused() {
    // An encrypted Office file is a compound file with an EncryptedPackage stream.
    let mut encrypted = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    encrypted.extend(vec![0u8; 500]);
    encrypted.extend(
        "EncryptedPackage"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes()),
    );
    check_refused("加密.xlsx", encrypted, FileError::Encrypted);
    let mut legacy = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    legacy.extend(vec![0u8; 500]);
    check_refused("旧表.xls", legacy, FileError::LegacyWorkbook);
}

#[test]
fn files_that_are_not_spreadsheets_are_refused() {
    let staff = staff();
    let report = import(&staff, "faq.xlsx", b"just some text".to_vec());
    assert!(matches!(report.refused[0].1, FileError::NotSpreadsheet(_)));
    // A zip that is not a workbook.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("hello.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, b"hello").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let report = import(&staff, "faq.xlsx", bytes);
    assert!(
        matches!(report.refused[0].1, FileError::NotSpreadsheet(_)),
        "{:?}",
        report.refused
    );
    check_refused(
        "faq.pdf",
        b"%PDF-1.4".to_vec(),
        FileError::UnknownFormat("faq.pdf".to_string()),
    );
    check_refused("empty.csv", b"  \n".to_vec(), FileError::Empty);
    check_refused(
        "nul.csv",
        b"\xff\x00\x01binary".to_vec(),
        FileError::NotText,
    );
    check_refused("odd.csv", b"abc\xff".to_vec(), FileError::Encoding);
}

#[test]
fn a_zip_bomb_is_refused_before_unpacking() {
    let mut bytes = xlsx(&HEADER, &[good_row(1)]);
    // Claim 2 GB unpacked for the first entry of the central directory.
    let at = bytes
        .windows(4)
        .position(|w| w == b"PK\x01\x02")
        .expect("central directory");
    bytes[at + 24..at + 28].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    check_refused("bomb.xlsx", bytes, FileError::UnpackedTooLarge);
}

#[test]
fn headers_that_do_not_fit_are_refused() {
    check_refused("x.csv", b"a,b\n1,2\n".to_vec(), FileError::NoHeader);
    check_refused(
        "x.csv",
        "问题,答案\n燃气,关阀\n".as_bytes().to_vec(),
        FileError::MissingColumns("“分类”、“来源”".to_string()),
    );
}

// ---------------------------------------------------------------------------
// Idempotence and round trips.

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let staff = staff();
    let file = xlsx(&HEADER, &[good_row(1), good_row(2)]);
    assert_counts(&import(&staff, "a.xlsx", file.clone()), 2, 0, 0, 0);
    let mark = staff.store().revision_mark().unwrap();
    assert_counts(&import(&staff, "a.xlsx", file), 0, 0, 2, 0);
    assert_eq!(
        staff.store().revision_mark().unwrap(),
        mark,
        "no revision written"
    );
}

#[test]
fn a_row_with_an_existing_id_updates_that_entry() {
    let staff = staff();
    let mut edited = staff
        .store()
        .stored_entry("gas-alarm")
        .unwrap()
        .unwrap()
        .entry;
    edited.answer = "装在燃气灶附近，天然气高装、液化气低装。".to_string();
    let cells = vec![
        edited.id.clone(),
        edited.category.clone(),
        edited.question.clone(),
        edited.alternates.join("\n"),
        edited.answer.clone(),
        edited.keywords.join("、"),
        edited.source.clone(),
        edited.reviewed.clone(),
    ];
    let report = import(&staff, "edit.xlsx", xlsx(&HEADER, &[cells]));
    assert_counts(&report, 0, 1, 0, 0);
    let stored = staff.store().stored_entry("gas-alarm").unwrap().unwrap();
    assert_eq!(stored.entry, edited);
    let history = staff.store().history("gas-alarm").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].actor, "test");
    assert_eq!(history[1].note, "导入 edit.xlsx");
}

/// An entry whose text tries every corner of the formats.
fn awkward_entry() -> Entry {
    Entry {
        id: "fire-awkward-text".to_string(),
        category: "消防与火灾逃生".to_string(),
        question: "=SUM(A1) 着火了，\"先跑\"还是先灭火？".to_string(),
        alternates: vec!["起火了先跑, 还是先救火".to_string(), "-着火先干嘛".to_string()],
        answer: "1. 火小：用灭火器对准火焰根部。\n2. 火大：立即离开，关门阻火，拨打 119。\n\t注意：不要乘电梯。".to_string(),
        keywords: vec!["@着火".to_string(), "先跑还是先灭".to_string()],
        source: "国家消防救援局，\"火灾逃生\"提示".to_string(),
        reviewed: "2026-06-01".to_string(),
    }
}

#[test]
fn export_then_import_changes_nothing_in_every_format() {
    for format in [ExportFormat::Jsonl, ExportFormat::Csv, ExportFormat::Xlsx] {
        let staff = staff();
        staff.save(awkward_entry(), "test").unwrap();
        let bytes = staff.export(format).unwrap();
        if format == ExportFormat::Csv {
            assert!(
                bytes.starts_with(b"\xEF\xBB\xBF"),
                "CSV for Excel carries a BOM"
            );
        }
        let before = staff.store().active_entries().unwrap();
        let mark = staff.store().revision_mark().unwrap();
        let name = format!("export.{}", format.extension());
        let report = import(&staff, &name, bytes);
        assert_counts(&report, 0, 0, before.len(), 0);
        assert_eq!(
            staff.store().active_entries().unwrap(),
            before,
            "{format:?}"
        );
        assert_eq!(staff.store().revision_mark().unwrap(), mark, "{format:?}");
    }
}

#[test]
fn the_template_imports_its_two_examples() {
    let staff = staff();
    let report = import(&staff, "模板.xlsx", export::template().unwrap());
    assert_counts(&report, 2, 0, 0, 0);
    assert!(
        staff
            .store()
            .stored_entry("campaign-day-parking")
            .unwrap()
            .is_some()
    );
}

#[test]
fn an_import_delivered_twice_is_imported_once() {
    let staff = staff();
    let keyed = ImportOptions {
        dedupe_key: Some("file-unique-1".to_string()),
        ..options()
    };
    let file = xlsx(&HEADER, &[good_row(1)]);
    assert!(import_with(&staff, vec![("a.xlsx", file.clone())], &keyed).written);
    let again = staff.import(
        vec![safety_bot::staff::ImportFile {
            name: "a.xlsx".to_string(),
            bytes: file,
        }],
        &keyed,
        &mut |_, _, _| {},
    );
    assert!(
        matches!(
            again,
            Err(StaffError::Store(StoreError::AlreadyImported { .. }))
        ),
        "{again:?}"
    );
}
