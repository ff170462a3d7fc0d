package ai.fulgur.datasets.text;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits delimited text into records of fields. With quoting it is RFC 4180: a field in double quotes may hold the
 * delimiter, line breaks and {@code ""} for one quote; records end with CRLF or LF. Without quoting (tab-separated
 * files, whose text often holds bare quotes) fields are split at every delimiter. Blank lines are skipped. Lenient
 * where RFC 4180 forbids without ambiguity: a quote inside an unquoted field is kept as it is.
 */
final class CsvParser {

    /** One record and the line it starts on (from 1). */
    record Row(int line, List<String> fields) {
    }

    private CsvParser() {
    }

    /**
     * @param text the whole file
     * @param delimiter ',' or '\t'
     * @param quoting whether double quotes delimit fields (RFC 4180)
     * @param file for errors
     * @throws DataFileException naming the line of an unterminated quote or of text after a closing quote
     */
    static List<Row> parse(String text, char delimiter, boolean quoting, Path file) throws DataFileException {
        List<Row> rows = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        int line = 1;
        int recordLine = 1;
        int i = 0;
        int n = text.length();
        boolean atFieldStart = true; // nothing of the current field read yet: a quote here opens a quoted field
        boolean inRecord = false; // something of this record read: tells a blank line from one empty field
        while (i < n) {
            char c = text.charAt(i);
            if (quoting && c == '"' && atFieldStart) {
                int quoteLine = line;
                i++;
                while (true) {
                    if (i >= n) {
                        throw new DataFileException(file, "line " + quoteLine
                                + ": quoted field never closed; expected a closing \" (write \"\" for a quote)");
                    }
                    char q = text.charAt(i);
                    if (q == '"') {
                        if (i + 1 < n && text.charAt(i + 1) == '"') {
                            field.append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (q == '\n') {
                        line++;
                    }
                    field.append(q);
                    i++;
                }
                atFieldStart = false;
                inRecord = true;
                if (i < n && text.charAt(i) != delimiter && text.charAt(i) != '\n' && text.charAt(i) != '\r') {
                    throw new DataFileException(file, "line " + line + ": unexpected '" + text.charAt(i)
                            + "' after a closing quote; expected the delimiter or the end of the line");
                }
                continue;
            }
            if (c == delimiter) {
                fields.add(field.toString());
                field.setLength(0);
                atFieldStart = true;
                inRecord = true;
                i++;
            } else if (c == '\r' || c == '\n') {
                i += c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n' ? 2 : 1;
                if (inRecord) {
                    fields.add(field.toString());
                    rows.add(new Row(recordLine, List.copyOf(fields)));
                }
                fields.clear();
                field.setLength(0);
                atFieldStart = true;
                inRecord = false;
                line++;
                recordLine = line;
            } else {
                field.append(c);
                atFieldStart = false;
                inRecord = true;
                i++;
            }
        }
        if (inRecord) {
            fields.add(field.toString());
            rows.add(new Row(recordLine, List.copyOf(fields)));
        }
        return rows;
    }
}
