//! Files as staff send them, built in the tests: workbooks written the way
//! Excel writes them (rust_xlsxwriter) and the way WPS does (a hand-made
//! package with inline strings, a title row and date-styled cells), CSV in
//! each encoding, and a staff store over the fixture corpus to import into.

use std::io::Write;

use safety_bot::knowledge::{Knowledge, load_dir};
use safety_bot::staff::{self, ImportFile, ImportOptions, ImportReport, Staff};
use safety_bot::store::Store;

use crate::fixture_dir;

/// The columns of the template, in its order.
pub const HEADER: [&str; 8] = [
    "编号",
    "分类",
    "问题",
    "相似问法",
    "答案",
    "关键词",
    "来源",
    "审核日期",
];

pub fn fixture_knowledge() -> Knowledge {
    load_dir(&fixture_dir()).expect("fixture loads").0
}

/// Staff operations over a fresh in-memory store holding the fixture.
pub fn staff() -> Staff {
    staff::store_only(fixture_knowledge(), Store::in_memory().unwrap())
        .unwrap()
        .staff
}

pub fn options() -> ImportOptions {
    ImportOptions {
        actor: "test".to_string(),
        ..ImportOptions::default()
    }
}

pub fn import(staff: &Staff, name: &str, bytes: Vec<u8>) -> ImportReport {
    import_with(staff, vec![(name, bytes)], &options())
}

pub fn import_with(
    staff: &Staff,
    files: Vec<(&str, Vec<u8>)>,
    options: &ImportOptions,
) -> ImportReport {
    let files = files
        .into_iter()
        .map(|(name, bytes)| ImportFile {
            name: name.to_string(),
            bytes,
        })
        .collect();
    staff.import(files, options, &mut |_, _, _| {}).unwrap()
}

/// A row of the template's eight columns.
pub fn row(id: &str, category: &str, question: &str, answer: &str, source: &str) -> Vec<String> {
    vec![
        id.to_string(),
        category.to_string(),
        question.to_string(),
        String::new(),
        answer.to_string(),
        String::new(),
        source.to_string(),
        String::new(),
    ]
}

/// A valid row with a question no fixture entry has.
pub fn good_row(n: usize) -> Vec<String> {
    vec![
        String::new(),
        "燃气安全".to_string(),
        format!("第{n}号燃气表漏气找谁修"),
        format!("燃气表{n}坏了\n表{n}漏气打哪个电话"),
        "先关闭表前阀门、开窗通风，人到室外后拨打燃气公司抢修电话。".to_string(),
        "燃气表，抢修".to_string(),
        "本市燃气公司".to_string(),
        "2026-06-01".to_string(),
    ]
}

/// An `.xlsx` as Excel writes it: header in row 1, every cell a string.
pub fn xlsx(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (column, name) in header.iter().enumerate() {
        sheet.write_string(0, column as u16, *name).unwrap();
    }
    for (r, cells) in rows.iter().enumerate() {
        for (column, value) in cells.iter().enumerate() {
            if !value.is_empty() {
                sheet
                    .write_string(r as u32 + 1, column as u16, value)
                    .unwrap();
            }
        }
    }
    workbook.save_to_buffer().unwrap()
}

/// CSV text with every field quoted and CRLF line ends, as Excel saves it.
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let line = |fields: Vec<String>| -> String {
        fields
            .iter()
            .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out.push_str("\r\n");
    for cells in rows {
        out.push_str(&line(cells.clone()));
        out.push_str("\r\n");
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A cell of a hand-made worksheet.
pub enum Cell<'a> {
    /// An inline string (`t="inlineStr"`), as WPS and many exporters write.
    Inline(&'a str),
    /// A shared string, by its text.
    Shared(&'a str),
    /// A number with the built-in date format (serial days since 1900).
    Date(f64),
    Number(f64),
    /// An error value such as `#N/A`.
    Error(&'a str),
}

/// A workbook built by hand the way WPS Office packages one: an
/// instructions sheet first and the data on a sheet named 问答, a merged
/// title row above the header, inline and shared strings mixed, dates as
/// date-styled numbers, and an `Application` of WPS.
pub fn wps_like_xlsx(rows: &[Vec<Cell<'_>>]) -> Vec<u8> {
    let mut shared: Vec<String> = Vec::new();
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetPr/><dimension ref="A1:H20"/><sheetData>"#,
    );
    for (r, cells) in rows.iter().enumerate() {
        let number = r + 1;
        sheet.push_str(&format!(r#"<row r="{number}">"#));
        for (c, cell) in cells.iter().enumerate() {
            let reference = format!("{}{number}", (b'A' + c as u8) as char);
            match cell {
                Cell::Inline("") => {}
                Cell::Inline(text) => sheet.push_str(&format!(
                    r#"<c r="{reference}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#,
                    xml_escape(text)
                )),
                Cell::Shared(text) => {
                    let index = shared.len();
                    shared.push(text.to_string());
                    sheet.push_str(&format!(r#"<c r="{reference}" t="s"><v>{index}</v></c>"#));
                }
                Cell::Date(serial) => sheet.push_str(&format!(
                    r#"<c r="{reference}" s="1"><v>{serial}</v></c>"#
                )),
                Cell::Number(value) => {
                    sheet.push_str(&format!(r#"<c r="{reference}"><v>{value}</v></c>"#))
                }
                Cell::Error(value) => sheet.push_str(&format!(
                    r#"<c r="{reference}" t="e"><v>{}</v></c>"#,
                    xml_escape(value)
                )),
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str(
        r#"</sheetData><mergeCells count="1"><mergeCell ref="A1:H1"/></mergeCells></worksheet>"#,
    );
    let mut strings = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{0}" uniqueCount="{0}">"#,
        shared.len()
    );
    for text in &shared {
        strings.push_str(&format!(
            r#"<si><t xml:space="preserve">{}</t></si>"#,
            xml_escape(text)
        ));
    }
    strings.push_str("</sst>");
    let notes = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>填写说明：每行一个问答</t></is></c></row></sheetData></worksheet>"#;
    let parts: Vec<(&str, String)> = vec![
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/docProps/app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/></Types>"#.to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/extended-properties" Target="docProps/app.xml"/></Relationships>"#.to_string(),
        ),
        (
            "docProps/app.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>WPS 表格</Application></Properties>"#.to_string(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="说明" sheetId="1" r:id="rId1"/><sheet name="问答" sheetId="2" r:id="rId2"/></sheets></workbook>"#.to_string(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet2.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#.to_string(),
        ),
        (
            "xl/styles.xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"#.to_string(),
        ),
        ("xl/sharedStrings.xml", strings),
        ("xl/worksheets/sheet1.xml", notes.to_string()),
        ("xl/worksheets/sheet2.xml", sheet),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in parts {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}
