package histogram

import (
	"encoding/json"
	"sort"
)

func marshal(v any) ([]byte, error) { return json.Marshal(v) }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
