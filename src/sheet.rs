//! Reading the files staff import, as bytes in and rows out: Excel
//! workbooks (`.xlsx`), CSV as Excel and WPS save it (UTF-8 with or without
//! BOM, GBK/GB18030, UTF-16), JSON lines (the `export` format) and topic
//! files in the `knowledge/` TOML format.
//!
//! Nothing here touches the store or judges an entry: a [`Sheet`] holds one
//! draft [`Entry`] per row with the row number people see (Excel's row
//! number, the line of a JSON-lines file, the entry number of a TOML file),
//! the problems found while reading its cells, and the column names as the
//! file wrote them, so that `staff` can report "第 5 行，“答案”列：缺少答案".
//!
//! Whatever arrives is read as data and never trusted: size, row and
//! unpacked-size limits are checked before anything big is built, and a
//! broken file is a [`FileError`], never a panic.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, Xlsx};

use crate::knowledge::{self, Entry};

/// Largest file accepted (Telegram's bot file download limit is 20 MB too).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// Most data rows in one file.
pub const MAX_ROWS: usize = 50_000;
/// Most bytes an `.xlsx` may unpack to: a real question sheet of 20 MB
/// unpacks to a few times that; a zip bomb to far more.
pub const MAX_UNPACKED_BYTES: u64 = 256 * 1024 * 1024;
/// Columns beyond this are ignored: the import needs eight.
const MAX_COLUMNS: u32 = 64;
/// The header row must be among the first rows (a title row may come first).
const HEADER_SEARCH_ROWS: usize = 10;

/// The fields of an entry, as the import knows them, with the header
/// names accepted for each (after [`header_key`]) and the Chinese name used
/// when the file has no such column.
pub const FIELDS: &[(&str, &str, &[&str])] = &[
    ("id", "编号", &["编号", "id", "条目编号", "entryid"]),
    (
        "category",
        "分类",
        &["分类", "类别", "category", "主题", "topic"],
    ),
    (
        "question",
        "问题",
        &["问题", "标准问题", "标准问法", "question"],
    ),
    (
        "alternates",
        "相似问法",
        &[
            "相似问法",
            "相似问题",
            "其他问法",
            "同义问法",
            "alternates",
            "alternatives",
        ],
    ),
    ("answer", "答案", &["答案", "回答", "答复", "answer"]),
    (
        "keywords",
        "关键词",
        &["关键词", "关键字", "keywords", "keyword"],
    ),
    ("source", "来源", &["来源", "依据", "出处", "source"]),
    (
        "reviewed",
        "审核日期",
        &["审核日期", "审核时间", "reviewed", "reviewdate"],
    ),
];

/// Columns a spreadsheet must have.
const REQUIRED: &[&str] = &["category", "question", "answer", "source"];

/// Separators between several alternates in one cell (besides line breaks).
const ALTERNATE_SEPARATORS: &[char] = &['\n', '｜', '|', '；', ';'];
/// Separators between keywords in one cell: also commas and 、.
const KEYWORD_SEPARATORS: &[char] = &['\n', '｜', '|', '；', ';', '，', ',', '、'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
    Jsonl,
    Toml,
}

impl Format {
    /// The format of a file: by its content where that is unambiguous (a
    /// zip is a workbook whatever its name), else by its extension.
    pub fn detect(name: &str, bytes: &[u8]) -> Result<Format, FileError> {
        if bytes.starts_with(b"PK\x03\x04") {
            return Ok(Format::Xlsx);
        }
        if bytes.starts_with(&CFB_MAGIC) {
            return Err(if is_encrypted_package(bytes) {
                FileError::Encrypted
            } else {
                FileError::LegacyWorkbook
            });
        }
        let extension = name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "xlsx" | "xlsm" => Err(FileError::NotSpreadsheet(
                "文件内容不是 Excel 工作簿".to_string(),
            )),
            "xls" | "et" | "ods" | "xlsb" => Err(FileError::LegacyWorkbook),
            "csv" | "txt" | "tsv" => Ok(Format::Csv),
            "jsonl" | "json" | "ndjson" => Ok(Format::Jsonl),
            "toml" => Ok(Format::Toml),
            _ => Err(FileError::UnknownFormat(name.to_string())),
        }
    }
}

/// Why a whole file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("文件太大：{size} 字节，上限 {limit} 字节（20 MB）。请拆分后分批导入")]
    TooLarge { size: usize, limit: usize },
    #[error("文件是空的")]
    Empty,
    #[error(
        "文件设有密码保护，无法读取。请在 Excel 或 WPS 里取消密码（文件 → 信息 → 保护工作簿 / 文档加密），另存为 .xlsx 后再导入"
    )]
    Encrypted,
    #[error(
        "这是旧版 Excel（.xls）或其他格式的表格。请在 Excel 或 WPS 里“另存为”Excel 工作簿（.xlsx）后再导入"
    )]
    LegacyWorkbook,
    #[error("不是有效的 Excel 文件（{0}）。请用 Excel 或 WPS 打开后另存为 .xlsx 再导入")]
    NotSpreadsheet(String),
    #[error("文件解压后超过 {} MB，不像是问答表格，已拒绝", MAX_UNPACKED_BYTES / 1024 / 1024)]
    UnpackedTooLarge,
    #[error("这不是文本格式的 CSV 文件（含有二进制内容）")]
    NotText,
    #[error("无法识别文件的文字编码。请在 Excel 或 WPS 中另存为“CSV UTF-8（逗号分隔）”后再导入")]
    Encoding,
    #[error(
        "不支持的文件类型：{0}。支持 .xlsx 表格、.csv、.jsonl（导出格式）和 .toml（知识库格式）"
    )]
    UnknownFormat(String),
    #[error(
        "找不到表头行：前 {HEADER_SEARCH_ROWS} 行里没有同时写着“问题”和“答案”的一行。请用 safety-bot template 生成的模板填写"
    )]
    NoHeader,
    #[error("表头缺少必填的列：{0}")]
    MissingColumns(String),
    #[error("文件有 {rows} 行以上，超过上限 {MAX_ROWS} 行。请拆分后分批导入")]
    TooManyRows { rows: usize },
    #[error("{0}")]
    Malformed(String),
}

/// A problem found while reading one cell (or one JSON line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellProblem {
    /// The field (`answer`…), or empty when it concerns the whole row.
    pub field: &'static str,
    pub message: String,
}

/// One row of a file: a draft entry (its id may be empty) and what went
/// wrong reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The number people see: the spreadsheet row, the line, the entry.
    pub number: usize,
    pub entry: Entry,
    pub problems: Vec<CellProblem>,
}

/// How rows of a file are counted in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowUnit {
    /// "第 N 行": spreadsheet rows and lines.
    Row,
    /// "第 N 个条目": entries of a topic file.
    Entry,
}

/// A file read into rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub format: Format,
    pub rows: Vec<Row>,
    pub unit: RowUnit,
    /// Column names as the file wrote them, by field.
    pub labels: HashMap<&'static str, String>,
    /// Columns whose names the import does not know (they are ignored).
    pub ignored_columns: Vec<String>,
    /// The worksheet read, for workbooks.
    pub sheet_name: Option<String>,
}

impl Sheet {
    /// The name of a field's column as the user knows it.
    pub fn label(&self, field: &str) -> String {
        if let Some(label) = self.labels.get(field) {
            return label.clone();
        }
        FIELDS
            .iter()
            .find(|(name, _, _)| *name == field)
            .map(|(_, chinese, _)| chinese.to_string())
            .unwrap_or_else(|| field.to_string())
    }

    /// "第 5 行" or "第 5 个条目".
    pub fn place(&self, number: usize) -> String {
        match self.unit {
            RowUnit::Row => format!("第 {number} 行"),
            RowUnit::Entry => format!("第 {number} 个条目"),
        }
    }
}

/// Reads a file of any supported format.
pub fn read(name: &str, bytes: &[u8]) -> Result<Sheet, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            size: bytes.len(),
            limit: MAX_FILE_BYTES,
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FileError::Empty);
    }
    match Format::detect(name, bytes)? {
        Format::Xlsx => read_xlsx(bytes),
        Format::Csv => read_csv(bytes),
        Format::Jsonl => read_jsonl(bytes),
        Format::Toml => read_toml(name, bytes),
    }
}

// ---------------------------------------------------------------------------
// Workbooks.

const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// An encrypted Office file is a compound file holding a stream named
/// `EncryptedPackage` (its name is stored in UTF-16).
fn is_encrypted_package(bytes: &[u8]) -> bool {
    let needle: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(|unit| unit.to_le_bytes())
        .collect();
    bytes.windows(needle.len()).any(|window| window == needle)
}

fn read_xlsx(bytes: &[u8]) -> Result<Sheet, FileError> {
    check_unpacked_size(bytes)?;
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| FileError::NotSpreadsheet(describe_xlsx_error(&e)))?;
    let names = workbook.sheet_names();
    let name = names
        .iter()
        .find(|n| n.trim() == "问答")
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| FileError::NotSpreadsheet("工作簿里没有工作表".to_string()))?;
    // Cells arrive in row order, but nothing forces a file to keep it;
    // rows are kept sparse, so a stray value in row 1,000,000 costs nothing
    // before the row limit refuses the file.
    let mut rows: std::collections::BTreeMap<u32, Vec<Cell>> = std::collections::BTreeMap::new();
    {
        let mut reader = workbook
            .worksheet_cells_reader(&name)
            .map_err(|e| FileError::NotSpreadsheet(describe_xlsx_error(&e)))?;
        while let Some(cell) = reader
            .next_cell()
            .map_err(|e| FileError::NotSpreadsheet(describe_xlsx_error(&e)))?
        {
            let (row, column) = cell.get_position();
            if column >= MAX_COLUMNS {
                continue;
            }
            let value = cell_value(cell.get_value());
            if matches!(value, Cell::Empty) {
                continue;
            }
            if !rows.contains_key(&row) && rows.len() > MAX_ROWS + HEADER_SEARCH_ROWS {
                return Err(FileError::TooManyRows { rows: rows.len() });
            }
            let line = rows.entry(row).or_default();
            if line.len() <= column as usize {
                line.resize(column as usize + 1, Cell::Empty);
            }
            line[column as usize] = value;
        }
    }
    let numbered: Vec<(usize, Vec<Cell>)> = rows
        .into_iter()
        .map(|(row, cells)| (row as usize + 1, cells))
        .collect();
    let mut sheet = table_to_sheet(Format::Xlsx, numbered)?;
    sheet.sheet_name = Some(name);
    Ok(sheet)
}

fn describe_xlsx_error(error: &calamine::XlsxError) -> String {
    match error {
        calamine::XlsxError::Password => "文件设有密码保护".to_string(),
        calamine::XlsxError::Zip(_) => "压缩结构损坏".to_string(),
        calamine::XlsxError::Xml(_) | calamine::XlsxError::XmlAttr(_) => {
            "内部 XML 损坏".to_string()
        }
        calamine::XlsxError::FileNotFound(part) => format!("缺少组成部分 {part}"),
        other => other.to_string(),
    }
}

/// Refuses zip archives that would unpack to far more than a sheet needs,
/// before calamine unpacks anything.
fn check_unpacked_size(bytes: &[u8]) -> Result<(), FileError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| FileError::NotSpreadsheet("压缩结构损坏".to_string()))?;
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let file = archive
            .by_index_raw(index)
            .map_err(|_| FileError::NotSpreadsheet("压缩结构损坏".to_string()))?;
        total = total.saturating_add(file.size());
        if total > MAX_UNPACKED_BYTES {
            return Err(FileError::UnpackedTooLarge);
        }
    }
    Ok(())
}

/// A cell's value as the import uses it.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    /// An Excel date or date-time: (year, month, day).
    Date(u16, u8, u8),
    /// `#N/A` and the like.
    Error(String),
}

fn cell_value(value: &DataRef<'_>) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::String(text) | DataRef::DateTimeIso(text) | DataRef::DurationIso(text) => {
            text_cell(text)
        }
        DataRef::SharedString(text) => text_cell(text),
        DataRef::Int(n) => Cell::Text(n.to_string()),
        DataRef::Float(f) => Cell::Text(format_number(*f)),
        DataRef::Bool(b) => Cell::Text(if *b { "TRUE" } else { "FALSE" }.to_string()),
        DataRef::DateTime(date) => {
            let serial = date.as_f64();
            // Serial numbers of years 1900..=9999; anything else is not a date anyone typed.
            if date.is_datetime() && (1.0..2_958_466.0).contains(&serial) {
                let (year, month, day, ..) = date.to_ymd_hms_milli();
                Cell::Date(year, month, day)
            } else {
                Cell::Text(format_number(serial))
            }
        }
        DataRef::Error(error) => Cell::Error(error.to_string()),
    }
}

fn text_cell(text: &str) -> Cell {
    if text.trim().is_empty() {
        Cell::Empty
    } else {
        Cell::Text(text.to_string())
    }
}

/// A number as someone typed it: 12 rather than 12.0.
fn format_number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

// ---------------------------------------------------------------------------
// CSV.

fn read_csv(bytes: &[u8]) -> Result<Sheet, FileError> {
    let text = decode_text(bytes)?;
    let records = parse_csv(&text);
    let numbered: Vec<(usize, Vec<Cell>)> = records
        .into_iter()
        .enumerate()
        .filter(|(_, record)| record.iter().any(|c| !c.trim().is_empty()))
        .map(|(n, record)| {
            (
                n + 1,
                record
                    .into_iter()
                    .take(MAX_COLUMNS as usize)
                    .map(|c| csv_cell(&c))
                    .collect(),
            )
        })
        .collect();
    if numbered.len() > MAX_ROWS + HEADER_SEARCH_ROWS {
        return Err(FileError::TooManyRows {
            rows: numbered.len(),
        });
    }
    table_to_sheet(Format::Csv, numbered)
}

/// A CSV cell. `export` writes an apostrophe before a leading = + - @ so
/// that Excel shows the text instead of running it as a formula; it is
/// taken off again here.
fn csv_cell(text: &str) -> Cell {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => text_cell(rest),
        _ => text_cell(text),
    }
}

/// Text from the bytes of a CSV file, in whichever encoding Excel or WPS
/// saved it: a BOM decides; else UTF-8 if it is valid UTF-8; else GB18030
/// (a superset of GBK, what Chinese Windows saves as "CSV").
pub fn decode_text(bytes: &[u8]) -> Result<String, FileError> {
    let text = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        String::from_utf8(rest.to_vec()).map_err(|_| FileError::Encoding)?
    } else if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let encoding = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[2..])
            .ok_or(FileError::Encoding)?
            .into_owned()
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        text.to_string()
    } else {
        if bytes.contains(&0) {
            return Err(FileError::NotText);
        }
        encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or(FileError::Encoding)?
            .into_owned()
    };
    if text.contains('\0') {
        return Err(FileError::NotText);
    }
    Ok(text)
}

/// Splits CSV text into records (RFC 4180, leniently): fields separated by
/// the delimiter of the first line (comma, tab or semicolon), quoted fields
/// may hold delimiters, line breaks and doubled quotes; a quote inside an
/// unquoted field is an ordinary character.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let delimiter = guess_delimiter(text);
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            c if c == delimiter => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

fn guess_delimiter(text: &str) -> char {
    let mut counts = [(',', 0usize), ('\t', 0), (';', 0)];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            c if !quoted => {
                if let Some(count) = counts.iter_mut().find(|(d, _)| *d == c) {
                    count.1 += 1;
                }
            }
            _ => {}
        }
    }
    counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(_, n)| *n)
        .map(|(d, _)| *d)
        .unwrap_or(',')
}

// ---------------------------------------------------------------------------
// Tables (workbooks and CSV): find the header, map columns, read rows.

/// A header as compared: lower case, no spaces, no notes in brackets, no
/// "必填" marks or asterisks.
pub fn header_key(header: &str) -> String {
    let mut key = String::new();
    let mut depth = 0usize;
    for c in header.chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '*' | '＊' | ':' | '：' | '_' | '-' => {}
            c if c.is_whitespace() => {}
            c => key.extend(c.to_lowercase()),
        }
    }
    for mark in ["必填", "选填", "可选"] {
        key = key.replace(mark, "");
    }
    key
}

fn field_of_header(header: &str) -> Option<&'static str> {
    let key = header_key(header);
    FIELDS
        .iter()
        .find(|(_, _, aliases)| aliases.contains(&key.as_str()))
        .map(|(field, _, _)| *field)
}

fn cell_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => text.clone(),
        Cell::Date(year, month, day) => format!("{year:04}-{month:02}-{day:02}"),
        Cell::Empty | Cell::Error(_) => String::new(),
    }
}

fn table_to_sheet(format: Format, table: Vec<(usize, Vec<Cell>)>) -> Result<Sheet, FileError> {
    if table.is_empty() {
        return Err(FileError::Empty);
    }
    let header_at = table
        .iter()
        .take(HEADER_SEARCH_ROWS)
        .position(|(_, cells)| {
            let fields: Vec<&str> = cells
                .iter()
                .filter_map(|c| field_of_header(&cell_text(c)))
                .collect();
            fields.contains(&"question") && fields.contains(&"answer")
        })
        .ok_or(FileError::NoHeader)?;
    let (_, header) = &table[header_at];
    let mut columns: Vec<(usize, &'static str)> = Vec::new();
    let mut labels = HashMap::new();
    let mut ignored_columns = Vec::new();
    for (index, cell) in header.iter().enumerate() {
        let name = cell_text(cell).trim().to_string();
        if name.is_empty() {
            continue;
        }
        match field_of_header(&name) {
            Some(field) if !labels.contains_key(field) => {
                labels.insert(field, name);
                columns.push((index, field));
            }
            _ => ignored_columns.push(name),
        }
    }
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|field| !labels.contains_key(*field))
        .map(|field| format!("“{}”", Sheet::default_label(field)))
        .collect();
    if !missing.is_empty() {
        return Err(FileError::MissingColumns(missing.join("、")));
    }
    let data = &table[header_at + 1..];
    if data.len() > MAX_ROWS {
        return Err(FileError::TooManyRows { rows: data.len() });
    }
    let mut rows = Vec::new();
    for (number, cells) in data {
        let mut values: HashMap<&'static str, String> = HashMap::new();
        let mut problems = Vec::new();
        for (index, field) in &columns {
            match cells.get(*index) {
                Some(Cell::Error(error)) => problems.push(CellProblem {
                    field,
                    message: format!("单元格是错误值 {error}，请改成文字"),
                }),
                Some(cell) => {
                    values.insert(field, cell_text(cell));
                }
                None => {}
            }
        }
        if values.values().all(|v| v.trim().is_empty()) && problems.is_empty() {
            continue;
        }
        let get = |field: &str| values.get(field).cloned().unwrap_or_default();
        rows.push(Row {
            number: *number,
            entry: Entry {
                id: get("id"),
                category: get("category"),
                question: get("question"),
                alternates: split_list(&get("alternates"), ALTERNATE_SEPARATORS),
                answer: get("answer"),
                keywords: split_list(&get("keywords"), KEYWORD_SEPARATORS),
                source: get("source"),
                reviewed: normalize_date(&get("reviewed")),
            }
            .tidy(),
            problems,
        });
    }
    Ok(Sheet {
        format,
        rows,
        unit: RowUnit::Row,
        labels,
        ignored_columns,
        sheet_name: None,
    })
}

impl Sheet {
    fn default_label(field: &str) -> &'static str {
        FIELDS
            .iter()
            .find(|(name, _, _)| *name == field)
            .map(|(_, chinese, _)| *chinese)
            .unwrap_or("")
    }
}

fn split_list(text: &str, separators: &[char]) -> Vec<String> {
    text.replace("\r\n", "\n")
        .split(|c| separators.contains(&c))
        .map(|part| part.trim().to_string())
        .filter(|part| !part.is_empty())
        .collect()
}

/// A review date as typed (2026/6/1, 2026.06.01, 2026年6月1日) in the
/// stored form 2026-06-01; anything else is left for the check to report.
pub fn normalize_date(text: &str) -> String {
    let text = text.trim();
    let parts: Vec<&str> = text
        .trim_end_matches('日')
        .split(['-', '/', '.', '年', '月'])
        .collect();
    if let [year, month, day] = parts.as_slice()
        && year.len() == 4
        && let (Ok(year), Ok(month), Ok(day)) = (
            year.parse::<u16>(),
            month.trim().parse::<u8>(),
            day.trim().parse::<u8>(),
        )
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
    {
        return format!("{year:04}-{month:02}-{day:02}");
    }
    text.to_string()
}

// ---------------------------------------------------------------------------
// JSON lines and TOML.

fn read_jsonl(bytes: &[u8]) -> Result<Sheet, FileError> {
    let text = decode_text(bytes)?;
    let mut rows = Vec::new();
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        // A JSON array of entries (a `.json` file) is accepted too.
        let values: Vec<serde_json::Value> = match serde_json::from_str(trimmed) {
            Ok(values) => values,
            Err(e) => {
                return Err(FileError::Malformed(format!(
                    "JSON 格式错误（第 {} 行第 {} 列）",
                    e.line(),
                    e.column()
                )));
            }
        };
        if values.len() > MAX_ROWS {
            return Err(FileError::TooManyRows { rows: values.len() });
        }
        for (n, value) in values.into_iter().enumerate() {
            rows.push(json_row(n + 1, Ok(value)));
        }
    } else {
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if rows.len() >= MAX_ROWS {
                return Err(FileError::TooManyRows {
                    rows: rows.len() + 1,
                });
            }
            rows.push(json_row(n + 1, serde_json::from_str(line)));
        }
    }
    if rows.is_empty() {
        return Err(FileError::Empty);
    }
    let labels = FIELDS
        .iter()
        .map(|(field, _, _)| (*field, field.to_string()))
        .collect();
    Ok(Sheet {
        format: Format::Jsonl,
        rows,
        unit: RowUnit::Row,
        labels,
        ignored_columns: Vec::new(),
        sheet_name: None,
    })
}

fn json_row(number: usize, parsed: Result<serde_json::Value, serde_json::Error>) -> Row {
    let mut problems = Vec::new();
    let object = match parsed {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => {
            problems.push(CellProblem {
                field: "",
                message: "这一行不是一个条目（应为 {\"id\": …, \"question\": …} 形式的对象）"
                    .to_string(),
            });
            serde_json::Map::new()
        }
        Err(e) => {
            problems.push(CellProblem {
                field: "",
                message: format!("不是有效的 JSON（第 {} 列附近）", e.column()),
            });
            serde_json::Map::new()
        }
    };
    let mut text = |field: &'static str| -> String {
        match object.get(field) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(_) => {
                problems.push(CellProblem {
                    field,
                    message: "应为文字".to_string(),
                });
                String::new()
            }
        }
    };
    let id = text("id");
    let category = text("category");
    let question = text("question");
    let answer = text("answer");
    let source = text("source");
    let reviewed = normalize_date(&text("reviewed"));
    let mut list = |field: &'static str, separators: &[char]| -> Vec<String> {
        match object.get(field) {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(s)) => split_list(s, separators),
            Some(serde_json::Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        serde_json::Value::String(s) => out.push(s.clone()),
                        _ => {
                            problems.push(CellProblem {
                                field,
                                message: "列表里只能是文字".to_string(),
                            });
                        }
                    }
                }
                out
            }
            Some(_) => {
                problems.push(CellProblem {
                    field,
                    message: "应为文字列表".to_string(),
                });
                Vec::new()
            }
        }
    };
    let alternates = list("alternates", ALTERNATE_SEPARATORS);
    let keywords = list("keywords", KEYWORD_SEPARATORS);
    Row {
        number,
        entry: Entry {
            id,
            category,
            question,
            alternates,
            answer,
            keywords,
            source,
            reviewed,
        }
        .tidy(),
        problems,
    }
}

fn read_toml(name: &str, bytes: &[u8]) -> Result<Sheet, FileError> {
    let text = decode_text(bytes)?;
    let file_name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if file_name == knowledge::SYNONYMS_FILE || file_name == knowledge::CARDS_FILE {
        return Err(FileError::Malformed(format!(
            "{file_name} 是同义词或应急卡片文件，不是问答条目文件；它随知识库目录加载，不能导入"
        )));
    }
    let entries = knowledge::parse_topic_file(&text, file_name)
        .map_err(|problem| FileError::Malformed(problem.to_string()))?;
    if entries.is_empty() {
        return Err(FileError::Empty);
    }
    if entries.len() > MAX_ROWS {
        return Err(FileError::TooManyRows {
            rows: entries.len(),
        });
    }
    let labels = FIELDS
        .iter()
        .map(|(field, _, _)| (*field, field.to_string()))
        .collect();
    Ok(Sheet {
        format: Format::Toml,
        rows: entries
            .into_iter()
            .enumerate()
            .map(|(n, entry)| Row {
                number: n + 1,
                entry: Entry {
                    reviewed: normalize_date(&entry.reviewed),
                    ..entry
                }
                .tidy(),
                problems: Vec::new(),
            })
            .collect(),
        unit: RowUnit::Entry,
        labels,
        ignored_columns: Vec::new(),
        sheet_name: None,
    })
}

/// Reads a whole file from disk; a file over the size limit is refused
/// before it is read.
pub fn read_path(path: &std::path::Path) -> Result<Vec<u8>, ReadPathError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_FILE_BYTES as u64 {
        return Err(ReadPathError::File(FileError::TooLarge {
            size: usize::try_from(size).unwrap_or(usize::MAX),
            limit: MAX_FILE_BYTES,
        }));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Why a file on disk could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadPathError {
    #[error("无法读取文件：{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    File(#[from] FileError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_keep_quotes_line_breaks_and_delimiters() {
        let check = |text: &str, expected: &[&[&str]]| {
            let records = parse_csv(text);
            let expected: Vec<Vec<String>> = expected
                .iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect();
            assert_eq!(records, expected, "{text:?}");
        };
        check("a,b\r\nc,d\r\n", &[&["a", "b"], &["c", "d"]]);
        check("\"a,1\",\"b\"\"q\"\"\"\n", &[&["a,1", "b\"q\""]]);
        check("\"line\nbreak\",x", &[&["line\nbreak", "x"]]);
        check(
            "a\tb\tc\n1\t2,5\t3",
            &[&["a", "b", "c"], &["1", "2,5", "3"]],
        );
        check("a;b\n1;2", &[&["a", "b"], &["1", "2"]]);
        check("say \"hi\",x", &[&["say \"hi\"", "x"]]);
        check("\"unterminated,x", &[&["unterminated,x"]]);
        check("", &[]);
    }

    #[test]
    fn headers_are_recognised_in_their_usual_forms() {
        for (header, field) in [
            ("问题", Some("question")),
            ("问题（必填）", Some("question")),
            ("*答案", Some("answer")),
            ("Answer", Some("answer")),
            ("相似问法（每行一个）", Some("alternates")),
            (" 审核日期 ", Some("reviewed")),
            ("Review-Date", Some("reviewed")),
            ("序号", None),
            ("备注", None),
        ] {
            assert_eq!(field_of_header(header), field, "{header}");
        }
    }

    #[test]
    fn dates_are_normalised() {
        for (typed, stored) in [
            ("2026-06-01", "2026-06-01"),
            ("2026/6/1", "2026-06-01"),
            ("2026.06.01", "2026-06-01"),
            ("2026年6月1日", "2026-06-01"),
            ("", ""),
            ("昨天", "昨天"),
            ("2026-13-01", "2026-13-01"),
        ] {
            assert_eq!(normalize_date(typed), stored, "{typed}");
        }
    }

    #[test]
    fn encodings_are_detected() {
        let text = "问题,答案\n燃气,关阀\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        assert_eq!(decode_text(&gbk).unwrap(), text);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(decode_text(&bom).unwrap(), text);
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decode_text(&utf16).unwrap(), text);
        assert_eq!(decode_text(b"a\0b"), Err(FileError::NotText));
    }
}
