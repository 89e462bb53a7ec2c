//! Writing entries for staff: JSON lines (the exchange format), CSV for
//! Excel (UTF-8 with a BOM, so Excel and WPS read Chinese correctly) and
//! `.xlsx`, plus the ready-to-fill template.
//!
//! Every format here is read back by `sheet` into the same entries: export,
//! then import, changes nothing. Lists (alternates, keywords) are written
//! one item a line inside their cell, the form `sheet` splits first.

use rust_xlsxwriter::{DataValidation, Format, FormatAlign, Formula, Workbook, XlsxError};

use crate::knowledge::{CATEGORIES, Entry};
use crate::sheet::FIELDS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("生成 Excel 文件失败：{0}")]
    Xlsx(#[from] XlsxError),
    #[error("生成 JSON 失败：{0}")]
    Json(#[from] serde_json::Error),
}

/// The name of the sheet entries are written to and read from.
pub const SHEET_NAME: &str = "问答";

/// The entries in a format, as the bytes of a file.
pub fn export(entries: &[Entry], format: ExportFormat) -> Result<Vec<u8>, ExportError> {
    match format {
        ExportFormat::Jsonl => {
            let mut out = Vec::new();
            for entry in entries {
                serde_json::to_writer(&mut out, entry)?;
                out.push(b'\n');
            }
            Ok(out)
        }
        ExportFormat::Csv => Ok(to_csv(entries)),
        ExportFormat::Xlsx => to_xlsx(entries, false),
    }
}

/// A workbook to fill in: the headers, two example rows, a category
/// drop-down and a sheet of instructions.
pub fn template() -> Result<Vec<u8>, ExportError> {
    to_xlsx(&template_examples(), true)
}

/// The two example rows of the template; importing the template as it is
/// adds them, which is harmless and shows how a row turns into an entry.
pub fn template_examples() -> Vec<Entry> {
    vec![
        Entry {
            id: String::new(),
            category: "燃气安全".to_string(),
            question: "咨询日现场可以免费检测燃气报警器吗？".to_string(),
            alternates: vec![
                "燃气报警器能拿到咨询日现场检测吗".to_string(),
                "活动上能不能帮忙测报警器".to_string(),
            ],
            answer: "可以。咨询日当天燃气公司在现场设有检测台，带上报警器即可免费检测；家里不方便拆的，可以现场预约上门检查。".to_string(),
            keywords: vec!["报警器检测".to_string(), "咨询日".to_string()],
            source: "本市燃气公司咨询日活动安排".to_string(),
            reviewed: "2026-06-01".to_string(),
        },
        Entry {
            id: "campaign-day-parking".to_string(),
            category: "安全生产月与宣传活动".to_string(),
            question: "去咨询日现场怎么停车？".to_string(),
            alternates: vec!["咨询日现场有停车位吗".to_string()],
            answer: "活动广场周边车位有限，建议乘坐公交或地铁前往；自驾请停在附近的公共停车场，不要占用消防通道。".to_string(),
            keywords: vec![],
            source: "市安委会办公室活动通知".to_string(),
            reviewed: String::new(),
        },
    ]
}

/// One row's cells in column order.
fn cells(entry: &Entry) -> [String; 8] {
    [
        entry.id.clone(),
        entry.category.clone(),
        entry.question.clone(),
        entry.alternates.join("\n"),
        entry.answer.clone(),
        entry.keywords.join("\n"),
        entry.source.clone(),
        entry.reviewed.clone(),
    ]
}

fn headers() -> Vec<&'static str> {
    FIELDS.iter().map(|(_, chinese, _)| *chinese).collect()
}

fn to_csv(entries: &[Entry]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let mut line = |fields: &[String]| {
        let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    };
    line(&headers().iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for entry in entries {
        line(&cells(entry));
    }
    out.into_bytes()
}

/// A CSV field, quoted when it must be. A field that Excel would run as a
/// formula (starting with = + - @) gets a leading apostrophe, which `sheet`
/// removes again on import.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r', '\t', ';']) || value.starts_with(' ') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn to_xlsx(entries: &[Entry], as_template: bool) -> Result<Vec<u8>, ExportError> {
    let mut workbook = Workbook::new();
    let header = Format::new()
        .set_bold()
        .set_background_color(0xDDEBF7)
        .set_align(FormatAlign::Center)
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let text = Format::new()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_num_format("@");
    let widths = [22.0, 16.0, 32.0, 36.0, 60.0, 20.0, 30.0, 12.0];
    {
        let sheet = workbook.add_worksheet();
        sheet.set_name(SHEET_NAME)?;
        for (column, name) in headers().iter().enumerate() {
            let column = column as u16;
            sheet.write_string_with_format(0, column, *name, &header)?;
            sheet.set_column_width(column, widths[column as usize])?;
            sheet.set_column_format(column, &text)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        for (row, entry) in entries.iter().enumerate() {
            for (column, value) in cells(entry).iter().enumerate() {
                if !value.is_empty() {
                    sheet.write_string_with_format(row as u32 + 1, column as u16, value, &text)?;
                }
            }
        }
        if as_template {
            let categories = DataValidation::new()
                .allow_list_formula(Formula::new(format!(
                    "=说明!$A$2:$A${}",
                    CATEGORIES.len() + 1
                )))
                .set_input_message("从下拉列表选择分类")?
                .set_error_message("请从下拉列表选择一个已有的分类")?;
            sheet.add_data_validation(1, 1, 5000, 1, &categories)?;
        }
    }
    if as_template {
        let sheet = workbook.add_worksheet();
        sheet.set_name("说明")?;
        sheet.write_string_with_format(0, 0, "可用分类", &header)?;
        for (n, category) in CATEGORIES.iter().enumerate() {
            sheet.write_string(n as u32 + 1, 0, *category)?;
        }
        sheet.set_column_width(0, 24.0)?;
        sheet.set_column_width(2, 100.0)?;
        sheet.write_string_with_format(0, 2, "填写说明", &header)?;
        for (n, line) in TEMPLATE_NOTES.iter().enumerate() {
            sheet.write_string_with_format(n as u32 + 1, 2, *line, &text)?;
        }
    }
    Ok(workbook.save_to_buffer()?)
}

const TEMPLATE_NOTES: &[&str] = &[
    "每一行是一个问答条目，在“问答”工作表里填写；第一行是表头，请不要修改。",
    "必填：分类、问题、答案、来源。分类请从下拉列表选择。",
    "编号：可以不填，导入时自动生成；要修改已有条目，请填它的编号（导出的表格里有）。编号只能用小写英文字母、数字和连字符。",
    "相似问法：居民可能的其他问法，每行一个（单元格内按 Alt+Enter 换行），也可以用 | 或 ；分隔。",
    "关键词：可选，每行一个，或用逗号、顿号分隔。",
    "答案：不超过 1000 字，建议写清楚先做什么、再做什么。来源：法律、标准或发布机构。",
    "审核日期：写成 2026-06-01 这样的格式，可以不填。",
    "导入：把文件发给机器人，或运行 safety-bot import 文件名.xlsx。有任何一行不合格时，整个文件都不会导入，并逐行说明原因。",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        for (value, written) in [
            ("燃气", "燃气"),
            ("a,b", "\"a,b\""),
            ("说\"好\"", "\"说\"\"好\"\"\""),
            ("两行\n文字", "\"两行\n文字\""),
            ("=1+1", "'=1+1"),
            ("-注意", "'-注意"),
        ] {
            assert_eq!(csv_field(value), written, "{value}");
        }
    }
}
