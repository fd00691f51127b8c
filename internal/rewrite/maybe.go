package rewrite

import "regexp"

var (
	fromRE     = regexp.MustCompile(`(?im)^\s*FROM\s`)
	imageKeyRE = regexp.MustCompile(`(?i)(^|[\s{,"'-])["']?[a-z_]*(image|repository)[a-z_]*["']?\s*:`)
)

// MayNameImages tells whether a file pinbot could not understand may
// still name images: a Dockerfile with a FROM, any other file with an
// image-like key (image, images, imageName, repository, ...). A gate must
// not vouch for such a file.
func MayNameImages(format Format, data []byte) bool {
	if format == FormatDockerfile {
		return fromRE.Match(data)
	}
	return imageKeyRE.Match(data)
}
