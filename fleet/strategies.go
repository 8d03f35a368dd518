package fleet

import "github.com/gluenet/gluenet/strategy"

// StrategyInfo names a ranking strategy and says what it does.
type StrategyInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Strategies lists the registered strategies.
func Strategies() []StrategyInfo {
	var out []StrategyInfo
	for _, n := range strategy.Names() {
		s, err := strategy.Lookup(n)
		if err != nil {
			continue
		}
		out = append(out, StrategyInfo{Name: n, Description: s.Describe()})
	}
	return out
}
