package sfv

import (
	"encoding/base64"
	"unicode/utf8"
)

// decodeBase64 decodes a byte sequence's content. RFC 9651 lets a parser
// accept it without padding; a content that is not base64 fails.
func decodeBase64(s string, p *parser) ([]byte, error) {
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, p.fail("bad base64 in a byte sequence")
	}
	return b, nil
}

func utf8Valid(b []byte) bool { return utf8.Valid(b) }
