package fleet

import "net/http"

func (s *Server) pages(mux *http.ServeMux) {}
