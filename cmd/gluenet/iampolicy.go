package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gluenet/gluenet/awsclient"
	ddbstore "github.com/gluenet/gluenet/store/dynamodb"
)

// stateTableOf is the DynamoDB state table the settings name, with the
// operations the store makes on it, or "".
func stateTableOf(s settings) (string, []string) {
	if table, ok := dynamoTable(s.StatePath); ok && s.PostgresDSN == "" {
		return table, ddbstore.Operations
	}
	return "", nil
}

// writeIAMTable prints the policy as a summary: one row per statement and
// resource, with its actions.
func writeIAMTable(w io.Writer, p awsclient.IAMPolicy) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATEMENT\tACTIONS\tRESOURCES")
	for _, st := range p.Statement {
		var res []string
		switch r := st.Resource.(type) {
		case string:
			res = []string{r}
		case []string:
			res = r
		}
		actions := strings.Join(st.Action, ", ")
		if st.Condition != nil {
			actions += " (only towards glue.amazonaws.com)"
		}
		for i, r := range res {
			sid := st.Sid
			if i > 0 {
				sid, actions = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", sid, actions, r)
		}
	}
	return tw.Flush()
}

func writeIAMPolicy(w io.Writer, p awsclient.IAMPolicy) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(p)
}
