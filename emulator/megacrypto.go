package emulator

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"golang.org/x/crypto/pbkdf2"
)

// MEGA's cryptography as its clients practise it: everything the server
// stores is encrypted by the client, so the mock, to see the bytes, does
// what a MEGA client does with the keys the account's owner holds.

// megaB64 is MEGA's base64: URL alphabet, no padding; the standard
// alphabet's + and / are taken too, as MEGA's decoder takes them.
func megaB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func megaUnB64(s string) ([]byte, error) {
	s = strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimRight(s, "="))
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("mega base64: %w", err)
	}
	return b, nil
}

// megaDerive is a v2 account's key derivation: PBKDF2-HMAC-SHA512 of the
// password with the account's salt, 100000 rounds, 32 bytes: the password
// key (it encrypts the master key) and the authentication key, which the
// client sends as its user handle ("uh") and the server compares.
func megaDerive(password string, salt []byte) (passKey, authKey []byte) {
	k := pbkdf2.Key([]byte(password), salt, 100000, 32, sha512.New)
	return k[:16], k[16:]
}

// megaECB encrypts (or decrypts) whole 16-byte blocks one by one, as MEGA
// encrypts keys with the master key.
func megaECB(key, data []byte, decrypt bool) ([]byte, error) {
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("mega key: %d bytes, not whole AES blocks", len(data))
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mega key: %w", err)
	}
	out := make([]byte, len(data))
	for i := 0; i < len(data); i += aes.BlockSize {
		if decrypt {
			blk.Decrypt(out[i:], data[i:])
		} else {
			blk.Encrypt(out[i:], data[i:])
		}
	}
	return out, nil
}

// megaMPI is a number as MEGA encodes it: its length in bits (2 bytes,
// big-endian), then its bytes.
func megaMPI(n *big.Int) []byte {
	b := n.Bytes()
	out := binary.BigEndian.AppendUint16(nil, uint16(n.BitLen()))
	return append(out, b...)
}

// megaPrivK is an RSA key as MEGA stores it, encrypted with the master key:
// p, q, d and u (q⁻¹ mod p) as MPIs, padded to whole AES blocks.
func megaPrivK(k *rsa.PrivateKey, master []byte) (string, error) {
	var b []byte
	for _, n := range []*big.Int{k.Primes[0], k.Primes[1], k.D, new(big.Int).ModInverse(k.Primes[1], k.Primes[0])} {
		b = append(b, megaMPI(n)...)
	}
	if pad := len(b) % aes.BlockSize; pad != 0 {
		b = append(b, make([]byte, aes.BlockSize-pad)...)
	}
	enc, err := megaECB(master, b, false)
	if err != nil {
		return "", err
	}
	return megaB64(enc), nil
}

// megaPubK is the public half as MEGA publishes it: n and e as MPIs.
func megaPubK(k *rsa.PublicKey) string {
	return megaB64(append(megaMPI(k.N), megaMPI(big.NewInt(int64(k.E)))...))
}

// megaCSID is the session id encrypted to the account's RSA key as MEGA
// sends it (raw RSA, no padding): the client decrypts it with the private
// key it decrypted with the master key, and keeps the first 43 bytes.
// The sid leads the plaintext, random bytes fill it to under the modulus.
func megaCSID(k *rsa.PublicKey, sid, filler []byte) string {
	m := new(big.Int).SetBytes(append(append([]byte{}, sid...), filler...))
	c := new(big.Int).Exp(m, big.NewInt(int64(k.E)), k.N)
	return megaB64(megaMPI(c))
}

// megaNodeKey is a node key as the client sends it in "p", decrypted with
// the master key: a folder's is its AES key; a file's is 32 bytes, the AES
// key XORed with the CTR nonce and the condensed MAC, then nonce and MAC.
type megaNodeKey struct {
	aes   []byte // 16
	nonce []byte // 8, the first half of the CTR IV, and the chunk MACs' IV twice
	mac   []byte // 8, the condensed meta-MAC
}

func parseMegaNodeKey(master []byte, enc string, file bool) (megaNodeKey, error) {
	raw, err := megaUnB64(enc)
	if err != nil {
		return megaNodeKey{}, err
	}
	want := 16
	if file {
		want = 32
	}
	if len(raw) != want {
		return megaNodeKey{}, fmt.Errorf("node key of %d bytes, want %d", len(raw), want)
	}
	k, err := megaECB(master, raw, true)
	if err != nil {
		return megaNodeKey{}, err
	}
	if !file {
		return megaNodeKey{aes: k}, nil
	}
	nk := megaNodeKey{aes: make([]byte, 16), nonce: k[16:24], mac: k[24:32]}
	for i := range 16 {
		nk.aes[i] = k[i] ^ k[16+i]
	}
	return nk, nil
}

// megaAttrs decrypts a node's attributes: AES-CBC with a zero IV under the
// node's key, "MEGA" then a JSON object, padded with NULs. The name is "n".
func megaAttrs(key []byte, enc string) (map[string]any, error) {
	raw, err := megaUnB64(enc)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 || len(raw)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("attributes of %d bytes, not whole AES blocks", len(raw))
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(blk, make([]byte, aes.BlockSize)).CryptBlocks(plain, raw)
	body, ok := bytes.CutPrefix(bytes.TrimRight(plain, "\x00"), []byte("MEGA"))
	if !ok {
		return nil, errors.New("attributes do not open with this key (no MEGA prefix)")
	}
	var attrs map[string]any
	if err := json.Unmarshal(body, &attrs); err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	if name, ok := attrs["n"].(string); !ok || name == "" {
		return nil, errors.New("attributes give no name (no \"n\")")
	}
	return attrs, nil
}

// megaChunks are MEGA's chunk boundaries, over which the chunk MACs are
// taken: 128 KiB, 256 KiB, ... 1 MiB, then 1 MiB each.
func megaChunks(size int64) []int64 {
	var out []int64
	for i := int64(1); size > 0; i++ {
		n := min(i, 8) * 128 << 10
		n = min(n, size)
		out = append(out, n)
		size -= n
	}
	return out
}

// errMegaMAC is a file whose bytes do not give the MAC its key holds.
var errMegaMAC = errors.New("meta-MAC mismatch")

// megaDecrypt copies the plaintext of size bytes of AES-CTR ciphertext from
// src to dst, and checks it as a MEGA client checks a download: each
// chunk's CBC-MAC (IV nonce||nonce), chained with CBC (zero IV) into the
// meta-MAC, whose two halves XORed must be the key's condensed MAC. An
// empty file has no chunk, and no MAC to check, as for MEGA's clients.
func megaDecrypt(dst io.Writer, src io.Reader, size int64, k megaNodeKey) error {
	blk, err := aes.NewCipher(k.aes)
	if err != nil {
		return fmt.Errorf("file key: %w", err)
	}
	ctr := cipher.NewCTR(blk, append(append([]byte{}, k.nonce...), make([]byte, 8)...))
	chunkIV := append(append([]byte{}, k.nonce...), k.nonce...)
	meta := cipher.NewCBCEncrypter(blk, make([]byte, aes.BlockSize))
	metaMAC := make([]byte, aes.BlockSize)
	chunks := megaChunks(size)
	// buf holds a piece of a chunk and room to pad it to whole blocks;
	// scratch takes the CBC output, of which the MAC is the last block.
	const piece = 128 << 10
	buf := make([]byte, piece+aes.BlockSize)
	scratch := make([]byte, len(buf))
	for _, n := range chunks {
		mac := cipher.NewCBCEncrypter(blk, chunkIV)
		var last []byte
		for left := n; left > 0; {
			b := buf[:min(piece, left)]
			if _, err := io.ReadFull(src, b); err != nil {
				return fmt.Errorf("reading the upload: %w", err)
			}
			ctr.XORKeyStream(b, b)
			if _, err := dst.Write(b); err != nil {
				return err
			}
			left -= int64(len(b))
			// b is whole blocks but at the chunk's end: pad that with NULs.
			padded := buf[:(len(b)+aes.BlockSize-1)/aes.BlockSize*aes.BlockSize]
			clear(padded[len(b):])
			mac.CryptBlocks(scratch[:len(padded)], padded)
			last = scratch[len(padded)-aes.BlockSize : len(padded)]
		}
		meta.CryptBlocks(metaMAC, last)
	}
	if len(chunks) == 0 {
		return nil
	}
	var condensed [8]byte
	for i := range 4 {
		condensed[i] = metaMAC[i] ^ metaMAC[4+i]
		condensed[4+i] = metaMAC[8+i] ^ metaMAC[12+i]
	}
	if subtle.ConstantTimeCompare(condensed[:], k.mac) != 1 {
		return errMegaMAC
	}
	return nil
}
