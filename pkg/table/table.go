// Package table renders the summary tables of count modes and feature
// reports with tablewriter. It is its own package so that the tools that
// print no table do not link tablewriter at all.
package table

import (
	"bytes"
	"io"

	"github.com/olekukonko/tablewriter"
)

// Write renders a summary table (count modes, feature reports) in the
// plain style BCC tools use: no borders, columns separated by spaces, header
// text kept exactly as given. Streaming event lines do not go through here;
// they are formatted by hand for speed.
//
// rightAlign lists the columns (by index) that hold numbers and are
// right-aligned; all other columns are left-aligned.
func Write(w io.Writer, header []string, rows [][]string, rightAlign ...int) error {
	align := make([]int, len(header))
	for i := range align {
		align[i] = tablewriter.ALIGN_LEFT
	}
	for _, i := range rightAlign {
		if i >= 0 && i < len(align) {
			align[i] = tablewriter.ALIGN_RIGHT
		}
	}
	var buf bytes.Buffer
	table := tablewriter.NewWriter(&buf)
	table.SetHeader(header)
	table.SetAutoFormatHeaders(false)
	table.SetHeaderAlignment(tablewriter.ALIGN_LEFT)
	table.SetColumnAlignment(align)
	table.SetAutoWrapText(false)
	table.SetBorder(false)
	table.SetHeaderLine(false)
	table.SetColumnSeparator("")
	table.SetCenterSeparator("")
	table.SetRowSeparator("")
	// Two spaces between columns, none before the first: BCC's look.
	table.SetNoWhiteSpace(true)
	table.SetTablePadding("  ")
	table.AppendBulk(rows)
	table.Render()
	// The last column carries padding too; trailing blanks only get in the
	// way of diff and grep, so drop them.
	var out []byte
	for _, line := range bytes.SplitAfter(buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		out = append(out, bytes.TrimRight(line, " \n")...)
		out = append(out, '\n')
	}
	_, err := w.Write(out)
	return err
}
