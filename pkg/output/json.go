package output

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// JSON is built by hand, with the helpers below appending one field each:
// on the per-event path encoding/json's reflection costs more than the rest
// of an event's handling, and linking its encoder adds ~170 KB to every
// binary (see the size target in the README).

// Obj starts an object.
func Obj(b []byte) []byte { return append(b, '{') }

// End closes an object and the line.
func End(b []byte) []byte {
	return append(trimComma(b), '}', '\n')
}

// trimComma drops the comma after the last field or element.
func trimComma(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == ',' {
		return b[:n-1]
	}
	return b
}

func key(b []byte, k string) []byte {
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

// Key appends "k": for a value the caller appends itself (an array or a
// nested object); k must need no escaping.
func Key(b []byte, k string) []byte { return key(b, k) }

// Close ends the array or object begun with '[' or '{': it drops the comma
// after the last element and appends c and the comma that follows a value.
func Close(b []byte, c byte) []byte {
	return append(trimComma(b), c, ',')
}

// Any appends "k":v, for histogram section keys: strings and the integer
// types the tools key sections by; anything else as its fmt string.
func Any(b []byte, k string, v any) []byte {
	b = key(b, k)
	switch v := v.(type) {
	case string:
		b = AppendJSONString(b, []byte(v))
	case uint32:
		b = strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		b = strconv.AppendUint(b, v, 10)
	case int:
		b = strconv.AppendInt(b, int64(v), 10)
	default:
		b = AppendJSONString(b, []byte(fmt.Sprint(v)))
	}
	return append(b, ',')
}

// Int appends "k":v,
func Int(b []byte, k string, v int64) []byte {
	return append(strconv.AppendInt(key(b, k), v, 10), ',')
}

// Uint appends "k":v,
func Uint(b []byte, k string, v uint64) []byte {
	return append(strconv.AppendUint(key(b, k), v, 10), ',')
}

// Float appends "k":v, with prec decimals.
func Float(b []byte, k string, v float64, prec int) []byte {
	return append(strconv.AppendFloat(key(b, k), v, 'f', prec, 64), ',')
}

// Bool appends "k":v,
func Bool(b []byte, k string, v bool) []byte {
	return append(strconv.AppendBool(key(b, k), v), ',')
}

// Str appends "k":"v", escaping v as JSON requires. Bytes that are not
// valid UTF-8 (paths may hold anything) become U+FFFD.
func Str(b []byte, k string, v []byte) []byte {
	return append(AppendJSONString(key(b, k), v), ',')
}

// StrString is Str for a string value.
func StrString(b []byte, k string, v string) []byte {
	return Str(b, k, []byte(v))
}

const hex = "0123456789abcdef"

// AppendJSONString appends s as a quoted JSON string.
func AppendJSONString(b []byte, s []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				switch c {
				case '\n':
					b = append(b, '\\', 'n')
				case '\t':
					b = append(b, '\\', 't')
				case '\r':
					b = append(b, '\\', 'r')
				default:
					b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
				}
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\ufffd"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
